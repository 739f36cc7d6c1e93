//! Pseudo-GTID: finding where a stopped replica stands in another
//! server's binary logs by matching injected marker events.

use orc_model::InstanceKey;

use super::{Captured, Conns, Executor, StepError};

impl Executor {
    pub(crate) async fn pseudo_gtid_match(
        &self,
        _conns: &mut Conns,
        replica: &InstanceKey,
        target: &InstanceKey,
    ) -> Result<Captured, StepError> {
        Err(StepError::Failed(format!(
            "cannot match {replica} below {target}: Pseudo-GTID matching is not available yet"
        )))
    }
}
