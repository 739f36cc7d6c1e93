//! Moving one replica: relocate (the ladder GTID → Pseudo-GTID → binlog
//! file:pos where coordinates stay equivalent → refuse), move-up,
//! move-below, repoint, take-master, make-co-master.

use orc_model::{InstanceData, InstanceKey};
use orc_recovery_fsm::HookStage;

use crate::build::{capture, change, just, lane, move_lane, name, phase, step};
use crate::error::{PlanError, Refusal};
use crate::intent::Intent;
use crate::plan::{
    Action, Capture, Condition, Credentials, Lane, Method, Phase, Plan, Position, Step,
};
use crate::policy::Policy;
use crate::replication::{
    can_replicate_from, gtid_between, gtid_position, live, no_errant_inflow, not_in_maintenance,
    source_answers,
};
use crate::topology::Topology;

/// The source of a replica, or a refusal saying it has none.
pub(crate) fn source_of(t: &Topology, instance: &InstanceKey) -> Result<InstanceKey, PlanError> {
    if t.get(instance)
        .and_then(|s| s.data.as_ref())
        .is_some_and(InstanceData::is_detached)
    {
        return Err(PlanError::refused(
            Refusal::Placement,
            instance,
            format!("{instance} is detached from its source: reattach it first"),
        ));
    }
    t.source_of(instance).ok_or_else(|| {
        PlanError::refused(
            Refusal::Placement,
            instance,
            format!("{instance} is not a replica (it has no source)"),
        )
    })
}

/// Checks common to every move of `instance` below `below`.
pub(crate) fn check_move(
    t: &Topology,
    instance: &InstanceKey,
    below: &InstanceKey,
) -> Result<(), PlanError> {
    if instance == below {
        return Err(PlanError::refused(
            Refusal::Invalid,
            instance,
            format!("{instance} cannot be moved below itself"),
        ));
    }
    live(t, instance)?;
    live(t, below)?;
    not_in_maintenance(t, &[instance, below])?;
    source_of(t, instance)?;
    if t.is_descendant(below, instance) {
        return Err(PlanError::refused(
            Refusal::Cycle,
            instance,
            format!(
                "{below} replicates from {instance}: moving {instance} below it would make a replication loop"
            ),
        ));
    }
    if t.root_of(instance) != t.root_of(below) {
        return Err(PlanError::refused(
            Refusal::Placement,
            instance,
            format!(
                "{instance} and {below} are in different clusters ({} and {}): moving between clusters is not supported",
                t.root_of(instance),
                t.root_of(below)
            ),
        ));
    }
    can_replicate_from(t, instance, below)?;
    no_errant_inflow(t, instance, below)
}

/// Where file:pos coordinates stay equivalent for `instance` below `below`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FilePlacement {
    /// `below` is its source already.
    SameSource,
    /// `below` is a sibling.
    Sibling,
    /// `below` is its grandparent.
    Grandparent,
}

fn file_placement(
    t: &Topology,
    instance: &InstanceKey,
    below: &InstanceKey,
) -> Option<FilePlacement> {
    let m = t.source_of(instance)?;
    if &m == below {
        return Some(FilePlacement::SameSource);
    }
    if t.source_of(below).as_ref() == Some(&m) {
        return Some(FilePlacement::Sibling);
    }
    (t.source_of(&m).as_ref() == Some(below)).then_some(FilePlacement::Grandparent)
}

/// Whether `below` is a stopped MariaDB replica off `instance`'s chain
/// that lacks what `instance` applied: it cannot catch up, and `instance`
/// could not start from it by GTID.
fn stopped_behind(t: &Topology, instance: &InstanceKey, below: &InstanceKey) -> bool {
    let (Some(i), Some(b)) = (
        t.get(instance).and_then(|s| s.data.as_ref()),
        t.get(below).and_then(|s| s.data.as_ref()),
    ) else {
        return false;
    };
    if i.flavor != orc_model::Flavor::Mariadb
        || t.source_of(below).is_none()
        || t.is_descendant(instance, below)
        || t.get(below)
            .is_some_and(crate::topology::Server::is_replicating)
    {
        return false;
    }
    let parse = |text: &str| orc_model::MariadbGtidSet::parse(text).ok();
    match (
        parse(&i.gtid_slave_pos),
        parse(&b.gtid_slave_pos),
        parse(&b.gtid_executed),
    ) {
        (Some(mine), Some(theirs), Some(logged)) => !theirs.union(&logged).contains(&mine),
        _ => true,
    }
}

/// Chooses how to move `instance` below `below`, or says why nothing works.
pub(crate) fn choose_method(
    t: &Topology,
    policy: &Policy,
    instance: &InstanceKey,
    below: &InstanceKey,
    only: Option<Method>,
) -> Result<Method, PlanError> {
    let i = live(t, instance)?;
    let b = live(t, below)?;
    let stopped_behind = stopped_behind(t, instance, below);
    let gtid = gtid_between(i, b).is_some() && !stopped_behind;
    let pseudo = policy.pseudo_gtid && i.is_logging_replica_updates() && b.log_bin;
    let file = file_placement(t, instance, below).is_some();
    let why_not_gtid = || {
        if stopped_behind {
            format!(
                "{below} does not replicate and lacks transactions {instance} applied: start its replication first"
            )
        } else if i.gtid_replication().is_none() {
            format!("{instance} does not replicate by GTID")
        } else {
            format!("{below} does not serve GTID of {instance}'s flavour")
        }
    };
    let why_not_pseudo = || {
        if policy.pseudo_gtid {
            format!(
                "Pseudo-GTID needs binary logs with replica updates on {instance} and binary logs on {below}"
            )
        } else {
            "Pseudo-GTID is not configured (PseudoGTIDPattern)".to_string()
        }
    };
    let why_not_file =
        || format!("{below} is neither the source, a sibling nor the grandparent of {instance}");
    let refuse = |why: String| {
        PlanError::refused(
            Refusal::NoMethod,
            instance,
            format!("cannot move {instance} below {below}: {why}"),
        )
    };
    match only {
        None if gtid => Ok(Method::Gtid),
        None if pseudo => Ok(Method::PseudoGtid),
        None if file => Ok(Method::BinlogFile),
        None => Err(refuse(format!(
            "{}; {}; and {} (move it in steps, or use GTID)",
            why_not_gtid(),
            why_not_pseudo(),
            why_not_file()
        ))),
        Some(Method::Gtid) if gtid => Ok(Method::Gtid),
        Some(Method::Gtid) => Err(refuse(why_not_gtid())),
        Some(Method::PseudoGtid) if pseudo => Ok(Method::PseudoGtid),
        Some(Method::PseudoGtid) => Err(refuse(why_not_pseudo())),
        Some(Method::BinlogFile) if file => Ok(Method::BinlogFile),
        Some(Method::BinlogFile) => Err(refuse(why_not_file())),
        Some(Method::None) => Err(refuse("no method".into())),
    }
}

/// The steps moving a replica below a new source by GTID. A MariaDB
/// source off the replica's own chain may be behind it: it first applies
/// what the replica has (bounded wait), so the replica's position exists in
/// its binary logs.
pub(crate) fn gtid_steps(t: &Topology, instance: &InstanceKey, below: &InstanceKey) -> Vec<Step> {
    let data = t.get(instance).and_then(|s| s.data.as_ref());
    let mariadb = data.is_some_and(|d| d.flavor == orc_model::Flavor::Mariadb);
    let position = data.map_or(Position::AutoPosition, |d| gtid_position(d, false));
    let mut steps = vec![just(Action::StopReplica(instance.clone()))];
    let replicating = t
        .get(below)
        .is_some_and(crate::topology::Server::is_replicating);
    if mariadb && replicating && t.source_of(below).is_some() && !t.is_descendant(instance, below) {
        let n = name("applied", instance);
        steps.push(capture(n.clone(), Capture::GtidApplied(instance.clone())));
        steps.push(just(Action::WaitForGtid {
            on: below.clone(),
            position: n,
        }));
    }
    steps.push(change(instance, below, position));
    steps.push(just(Action::StartReplica(instance.clone())));
    steps
}

/// The steps moving a replica by Pseudo-GTID.
pub(crate) fn pseudo_gtid_steps(instance: &InstanceKey, below: &InstanceKey) -> Vec<Step> {
    let n = name("match", instance);
    vec![
        just(Action::StopReplica(instance.clone())),
        capture(
            n.clone(),
            Capture::PseudoGtidMatch {
                replica: instance.clone(),
                target: below.clone(),
            },
        ),
        change(instance, below, Position::Captured(n)),
        just(Action::StartReplica(instance.clone())),
    ]
}

/// The steps restarting a replica on its own source at the same position.
pub(crate) fn repoint_steps(
    t: &Topology,
    instance: &InstanceKey,
    source: &InstanceKey,
) -> Vec<Step> {
    let data = t.get(instance).and_then(|s| s.data.as_ref());
    let gtid = match (data, t.get(source).and_then(|s| s.data.as_ref())) {
        (Some(i), Some(m)) => gtid_between(i, m).is_some() && i.gtid_replication().is_some(),
        _ => false,
    };
    let mut steps = vec![just(Action::StopReplica(instance.clone()))];
    if gtid {
        let position = data.map_or(Position::AutoPosition, |d| gtid_position(d, false));
        steps.push(change(instance, source, position));
    } else {
        let n = name("exec", instance);
        steps.push(capture(
            n.clone(),
            Capture::ExecCoordinates(instance.clone()),
        ));
        steps.push(change(instance, source, Position::Captured(n)));
    }
    steps.push(just(Action::StartReplica(instance.clone())));
    steps
}

/// Restarts of the servers that replicate now, for when a plan stops early.
pub(crate) fn restarts(t: &Topology, keys: &[&InstanceKey]) -> Vec<Step> {
    keys.iter()
        .filter(|k| t.get(k).is_some_and(|s| s.is_replicating()))
        .map(|k| just(Action::StartReplica((*k).clone())))
        .collect()
}

fn moved_plan(intent: Intent, method: Method, instance: &InstanceKey, below: &InstanceKey) -> Plan {
    let mut plan = Plan::new(
        intent,
        method,
        format!("move {instance} below {below} ({method})"),
    );
    plan.subject = Some(instance.clone());
    plan.expect = vec![
        Condition::ReplicatesFrom {
            replica: instance.clone(),
            source: below.clone(),
        },
        Condition::ReplicationRunning(instance.clone()),
    ];
    plan
}

/// `relocate` and its method-restricted forms.
pub(crate) fn relocate(
    t: &Topology,
    policy: &Policy,
    intent: Intent,
    instance: &InstanceKey,
    below: &InstanceKey,
    only: Option<Method>,
) -> Result<Plan, PlanError> {
    check_move(t, instance, below)?;
    let method = if t.source_of(instance).as_ref() == Some(below) && only.is_none() {
        let mut plan = moved_plan(intent, Method::None, instance, below);
        plan.summary = format!("{instance} already replicates from {below}: restart it there");
        plan.phases = vec![phase(
            "repoint",
            vec![lane(
                format!("repoint {instance}"),
                repoint_steps(t, instance, below),
            )],
        )];
        plan.on_failure = restarts(t, &[instance]);
        return Ok(plan);
    } else {
        choose_method(t, policy, instance, below, only)?
    };
    match method {
        Method::Gtid | Method::PseudoGtid => {
            let mut plan = moved_plan(intent, method, instance, below);
            let steps = if method == Method::Gtid {
                gtid_steps(t, instance, below)
            } else {
                pseudo_gtid_steps(instance, below)
            };
            plan.notes.push(format!(
                "{method}: {instance} finds its place on {below} by itself"
            ));
            let mut moving = lane(format!("move {instance} below {below}"), steps);
            moving.moves = Some(instance.clone());
            plan.phases = vec![phase(format!("move {instance}"), vec![moving])];
            plan.on_failure = restarts(t, &[instance]);
            Ok(plan)
        }
        Method::BinlogFile => match file_placement(t, instance, below) {
            Some(FilePlacement::Sibling) => {
                source_answers(t, instance)?;
                Ok(move_below_file(t, intent, instance, below))
            }
            Some(FilePlacement::Grandparent) => {
                source_answers(t, instance)?;
                Ok(move_up_file(t, intent, instance, below))
            }
            Some(FilePlacement::SameSource) | None => Err(PlanError::refused(
                Refusal::NoMethod,
                instance,
                format!("cannot move {instance} below {below} by coordinates"),
            )),
        },
        Method::None => Err(PlanError::refused(
            Refusal::NoMethod,
            instance,
            "no method".to_string(),
        )),
    }
}

/// `move-below`: below a sibling, keeping coordinates equivalent.
pub(crate) fn move_below(
    t: &Topology,
    policy: &Policy,
    intent: Intent,
    instance: &InstanceKey,
    sibling: &InstanceKey,
) -> Result<Plan, PlanError> {
    check_move(t, instance, sibling)?;
    if file_placement(t, instance, sibling) != Some(FilePlacement::Sibling) {
        return Err(PlanError::refused(
            Refusal::Placement,
            instance,
            format!("{sibling} is not a sibling of {instance}"),
        ));
    }
    // With GTID the same result needs no synchronisation.
    if choose_method(t, policy, instance, sibling, Some(Method::Gtid)).is_ok() {
        return relocate(t, policy, intent, instance, sibling, Some(Method::Gtid));
    }
    source_answers(t, instance)?;
    Ok(move_below_file(t, intent, instance, sibling))
}

fn move_below_file(t: &Topology, intent: Intent, i: &InstanceKey, s: &InstanceKey) -> Plan {
    let mut plan = moved_plan(intent, Method::BinlogFile, i, s);
    let m = t.source_of(i).unwrap_or_else(|| s.clone());
    let same = Condition::SameExecPosition(i.clone(), s.clone());
    let n = name("binlog", s);
    plan.notes.push(format!(
        "binlog file:pos: {i} and {s} stop at the same position of {m}; {i} continues from {s}'s binary log position there"
    ));
    plan.phases = vec![
        phase(
            "stop both",
            vec![
                lane(
                    format!("stop {i}"),
                    vec![just(Action::StopReplica(i.clone()))],
                ),
                lane(
                    format!("stop {s}"),
                    vec![just(Action::StopReplica(s.clone()))],
                ),
            ],
        ),
        phase(
            "synchronise",
            vec![lane(
                format!("bring {i} and {s} to one position"),
                vec![step(
                    Action::SyncSiblings {
                        a: i.clone(),
                        b: s.clone(),
                    },
                    vec![
                        Condition::ReplicatesFrom {
                            replica: i.clone(),
                            source: m.clone(),
                        },
                        Condition::ReplicatesFrom {
                            replica: s.clone(),
                            source: m,
                        },
                    ],
                )],
            )],
        ),
        phase(
            "move",
            vec![lane(
                format!("move {i} below {s}"),
                vec![
                    step(
                        Action::Capture {
                            name: n.clone(),
                            what: Capture::SelfCoordinates(s.clone()),
                        },
                        vec![same.clone()],
                    ),
                    step(
                        Action::ChangeSource {
                            on: i.clone(),
                            source: s.clone(),
                            position: Position::Captured(n),
                            credentials: Credentials::Keep,
                        },
                        vec![same],
                    ),
                    just(Action::StartReplica(i.clone())),
                ],
            )],
        ),
        phase(
            "resume",
            vec![lane(
                format!("restart {s}"),
                vec![just(Action::StartReplica(s.clone()))],
            )],
        ),
    ];
    plan.on_failure = restarts(t, &[i, s]);
    mark_moves(&mut plan, i);
    plan
}

/// Marks the lane that changes `instance`'s source as its move.
fn mark_moves(plan: &mut Plan, instance: &InstanceKey) {
    for lane in plan.phases.iter_mut().flat_map(|p| p.lanes.iter_mut()) {
        let moves_it = lane
            .steps
            .iter()
            .any(|s| matches!(&s.action, Action::ChangeSource { on, .. } if on == instance));
        if moves_it {
            lane.moves = Some(instance.clone());
        }
    }
}

/// `move-up`: below the grandparent.
pub(crate) fn move_up(
    t: &Topology,
    policy: &Policy,
    intent: Intent,
    instance: &InstanceKey,
) -> Result<Plan, PlanError> {
    let m = source_of(t, instance)?;
    let g = source_of(t, &m).map_err(|_| {
        PlanError::refused(
            Refusal::Placement,
            instance,
            format!("{instance} replicates from {m}, which is not a replica: there is nothing to move up to"),
        )
    })?;
    check_move(t, instance, &g)?;
    if choose_method(t, policy, instance, &g, Some(Method::Gtid)).is_ok() {
        return relocate(t, policy, intent, instance, &g, Some(Method::Gtid));
    }
    live(t, &m)?;
    Ok(move_up_file(t, intent, instance, &g))
}

fn move_up_file(t: &Topology, intent: Intent, i: &InstanceKey, g: &InstanceKey) -> Plan {
    let mut plan = moved_plan(intent, Method::BinlogFile, i, g);
    let m = t.source_of(i).unwrap_or_else(|| g.clone());
    let own = name("binlog", &m);
    let exec = name("exec", &m);
    plan.notes.push(format!(
        "binlog file:pos: {m} stops; {i} runs until it executed everything {m} logged, then continues from {g} where {m} stopped"
    ));
    plan.phases = vec![
        phase(
            "stop both",
            vec![
                lane(
                    format!("stop {m}"),
                    vec![just(Action::StopReplica(m.clone()))],
                ),
                lane(
                    format!("stop {i}"),
                    vec![just(Action::StopReplica(i.clone()))],
                ),
            ],
        ),
        phase(
            "catch up",
            vec![lane(
                format!("run {i} up to {m}'s position"),
                vec![
                    step(
                        Action::Capture {
                            name: own.clone(),
                            what: Capture::SelfCoordinates(m.clone()),
                        },
                        vec![Condition::ReplicationStopped(m.clone())],
                    ),
                    step(
                        Action::RunUntil {
                            on: i.clone(),
                            until: own.clone(),
                        },
                        vec![Condition::ReplicatesFrom {
                            replica: i.clone(),
                            source: m.clone(),
                        }],
                    ),
                ],
            )],
        ),
        phase(
            "move",
            vec![lane(
                format!("move {i} below {g}"),
                vec![
                    step(
                        Action::Capture {
                            name: exec.clone(),
                            what: Capture::ExecCoordinates(m.clone()),
                        },
                        vec![Condition::ReplicationStopped(m.clone())],
                    ),
                    step(
                        Action::ChangeSource {
                            on: i.clone(),
                            source: g.clone(),
                            position: Position::Captured(exec),
                            credentials: Credentials::Keep,
                        },
                        vec![Condition::ExecutedUpTo {
                            on: i.clone(),
                            capture: own,
                        }],
                    ),
                    just(Action::StartReplica(i.clone())),
                ],
            )],
        ),
        phase(
            "resume",
            vec![lane(
                format!("restart {m}"),
                vec![just(Action::StartReplica(m.clone()))],
            )],
        ),
    ];
    plan.on_failure = restarts(t, &[i, &m]);
    mark_moves(&mut plan, i);
    plan
}

/// `repoint`: the same position on the given (or current) source.
pub(crate) fn repoint(
    t: &Topology,
    policy: &Policy,
    intent: Intent,
    instance: &InstanceKey,
    below: Option<&InstanceKey>,
) -> Result<Plan, PlanError> {
    let current = source_of(t, instance)?;
    let target = below.cloned().unwrap_or_else(|| current.clone());
    if target != current {
        check_move(t, instance, &target)?;
        return match choose_method(t, policy, instance, &target, Some(Method::Gtid)) {
            Ok(_) => relocate(t, policy, intent, instance, &target, Some(Method::Gtid)),
            Err(_) => Err(PlanError::refused(
                Refusal::NoMethod,
                instance,
                format!(
                    "repoint keeps {instance}'s position, which means nothing on {target} without GTID: use relocate, move-below or move-up"
                ),
            )),
        };
    }
    live(t, instance)?;
    not_in_maintenance(t, &[instance])?;
    source_answers(t, instance)?;
    let mut plan = moved_plan(intent, Method::None, instance, &target);
    plan.summary = format!("repoint {instance} at {target} at its current position");
    plan.phases = vec![phase(
        "repoint",
        vec![lane(
            format!("repoint {instance}"),
            repoint_steps(t, instance, &target),
        )],
    )];
    plan.on_failure = restarts(t, &[instance]);
    Ok(plan)
}

/// `take-master`: `instance` swaps places with its source.
pub(crate) fn take_master(
    t: &Topology,
    intent: Intent,
    instance: &InstanceKey,
) -> Result<Plan, PlanError> {
    let m = source_of(t, instance)?;
    let g = source_of(t, &m).map_err(|_| {
        PlanError::refused(
            Refusal::Placement,
            instance,
            format!(
                "{m} is not a replica: to take over from a master use graceful-master-takeover"
            ),
        )
    })?;
    live(t, instance)?;
    live(t, &m)?;
    not_in_maintenance(t, &[instance, &m, &g])?;
    if &g == instance {
        return Err(PlanError::refused(
            Refusal::Placement,
            instance,
            format!("{instance} and {m} are co-masters: there is no master to take"),
        ));
    }
    live(t, &g)?;
    can_replicate_from(t, instance, &g)?;
    // `m` replicates from `instance` afterwards (`instance` is a replica
    // now, so the rule asks for its log_slave_updates too).
    can_replicate_from(t, &m, instance)?;
    no_errant_inflow(t, &m, instance)?;
    let i_data = live(t, instance)?;
    let m_data = live(t, &m)?;
    let gtid =
        gtid_between(i_data, live(t, &g)?).is_some() && gtid_between(m_data, i_data).is_some();
    let method = if gtid {
        Method::Gtid
    } else {
        Method::BinlogFile
    };
    let mut plan = Plan::new(
        intent,
        method,
        format!("{instance} takes the place of {m} ({method})"),
    );
    plan.subject = Some(instance.clone());
    plan.successor = Some(instance.clone());
    let stop = phase(
        "stop both",
        vec![
            lane(
                format!("stop {m}"),
                vec![just(Action::StopReplica(m.clone()))],
            ),
            lane(
                format!("stop {instance}"),
                vec![just(Action::StopReplica(instance.clone()))],
            ),
        ],
    );
    let (catch_up, swap): (Phase, Lane) = if gtid {
        let pos = name("gtid", &m);
        (
            phase(
                "catch up",
                vec![lane(
                    format!("{instance} applies everything {m} has"),
                    vec![
                        capture(pos.clone(), Capture::GtidExecuted(m.clone())),
                        just(Action::StartReplica(instance.clone())),
                        just(Action::WaitForGtid {
                            on: instance.clone(),
                            position: pos,
                        }),
                        just(Action::StopReplica(instance.clone())),
                    ],
                )],
            ),
            lane(
                format!("swap {instance} and {m}"),
                vec![
                    change(instance, &g, gtid_position(i_data, false)),
                    change(&m, instance, gtid_position(m_data, false)),
                ],
            ),
        )
    } else {
        let own = name("binlog", &m);
        let exec = name("exec", &m);
        let mine = name("binlog", instance);
        (
            phase(
                "catch up",
                vec![lane(
                    format!("run {instance} up to {m}'s position"),
                    vec![
                        capture(own.clone(), Capture::SelfCoordinates(m.clone())),
                        just(Action::RunUntil {
                            on: instance.clone(),
                            until: own.clone(),
                        }),
                    ],
                )],
            ),
            lane(
                format!("swap {instance} and {m}"),
                vec![
                    capture(exec.clone(), Capture::ExecCoordinates(m.clone())),
                    capture(mine.clone(), Capture::SelfCoordinates(instance.clone())),
                    step(
                        Action::ChangeSource {
                            on: instance.clone(),
                            source: g.clone(),
                            position: Position::Captured(exec),
                            credentials: Credentials::Keep,
                        },
                        vec![Condition::ExecutedUpTo {
                            on: instance.clone(),
                            capture: own,
                        }],
                    ),
                    change(&m, instance, Position::Captured(mine)),
                ],
            ),
        )
    };
    plan.phases = vec![
        stop,
        catch_up,
        phase("swap", vec![swap]),
        phase(
            "restart",
            vec![
                lane(
                    format!("restart {instance}"),
                    vec![just(Action::StartReplica(instance.clone()))],
                ),
                lane(
                    format!("restart {m}"),
                    vec![just(Action::StartReplica(m.clone()))],
                ),
            ],
        ),
        phase(
            "hooks",
            vec![crate::build::optional(
                "PostTakeMasterProcesses",
                vec![just(Action::Hooks(HookStage::PostTakeMaster))],
            )],
        ),
    ];
    plan.expect = vec![
        Condition::ReplicatesFrom {
            replica: instance.clone(),
            source: g,
        },
        Condition::ReplicatesFrom {
            replica: m.clone(),
            source: instance.clone(),
        },
        Condition::ReplicationRunning(instance.clone()),
        Condition::ReplicationRunning(m.clone()),
    ];
    plan.on_failure = restarts(t, &[instance, &m]);
    Ok(plan)
}

/// `make-co-master`: the master of `instance` replicates from it too.
pub(crate) fn make_co_master(
    t: &Topology,
    policy: &Policy,
    intent: Intent,
    instance: &InstanceKey,
) -> Result<Plan, PlanError> {
    let m = source_of(t, instance)?;
    let i = live(t, instance)?;
    let md = live(t, &m)?;
    not_in_maintenance(t, &[instance, &m])?;
    if md.is_detached() {
        return Err(PlanError::refused(
            Refusal::Placement,
            &m,
            format!(
                "{m} is detached from its own source: reattach it or reset it before making co-masters"
            ),
        ));
    }
    match t.source_of(&m) {
        Some(s) if &s == instance => {
            return Err(PlanError::refused(
                Refusal::NothingToDo,
                instance,
                format!("{instance} and {m} are co-masters already"),
            ));
        }
        Some(s) => {
            return Err(PlanError::refused(
                Refusal::Placement,
                &m,
                format!(
                    "{m} replicates from {s}: only a master without a source can become a co-master"
                ),
            ));
        }
        None => {}
    }
    if !i.read_only {
        return Err(PlanError::refused(
            Refusal::Placement,
            instance,
            format!("{instance} is writable: a new co-master must be read-only"),
        ));
    }
    can_replicate_from(t, &m, instance)?;
    if !policy.credentials_known {
        return Err(PlanError::refused(
            Refusal::Credentials,
            &m,
            format!(
                "{m} has no replication configured and no replication credentials are known: set ReplicationCredentialsQuery or ReplicationUser/ReplicationPassword"
            ),
        ));
    }
    no_errant_inflow(t, &m, instance)?;
    let gtid = gtid_between(md, i).is_some();
    let method = if gtid {
        Method::Gtid
    } else {
        Method::BinlogFile
    };
    let mut plan = Plan::new(
        intent,
        method,
        format!("{m} replicates from {instance} too: co-masters ({method})"),
    );
    plan.subject = Some(instance.clone());
    let mut steps = Vec::new();
    let position = if gtid {
        let pos = name("gtid", &m);
        steps.push(capture(pos.clone(), Capture::GtidExecuted(m.clone())));
        steps.push(just(Action::WaitForGtid {
            on: instance.clone(),
            position: pos,
        }));
        gtid_position(md, true)
    } else {
        let mine = name("binlog", instance);
        steps.push(capture(
            mine.clone(),
            Capture::SelfCoordinates(instance.clone()),
        ));
        Position::Captured(mine)
    };
    steps.push(just(Action::ChangeSource {
        on: m.clone(),
        source: instance.clone(),
        position,
        credentials: Credentials::Configured,
    }));
    steps.push(just(Action::StartReplica(m.clone())));
    plan.phases = vec![phase(
        "co-master",
        vec![lane(format!("{m} replicates from {instance}"), steps)],
    )];
    plan.expect = vec![
        Condition::ReplicatesFrom {
            replica: m.clone(),
            source: instance.clone(),
        },
        Condition::ReplicationRunning(m),
    ];
    Ok(plan)
}

/// A move lane for relocating many replicas by GTID.
pub(crate) fn gtid_move_lane(t: &Topology, instance: &InstanceKey, below: &InstanceKey) -> Lane {
    move_lane(
        format!("move {instance} below {below} (GTID)"),
        instance,
        gtid_steps(t, instance, below),
    )
}
