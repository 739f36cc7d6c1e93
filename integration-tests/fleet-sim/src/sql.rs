//! Reading the statements the simulator answers, and the column layouts of
//! `SHOW ... STATUS` in each dialect.

use crate::model::Dialect;

/// Collapses whitespace (newlines included) and trims.
pub(crate) fn normalize(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Splits a statement batch on `;` outside quotes.
pub fn statements(batch: &str) -> Vec<&str> {
    split_top_level(batch, ';')
        .into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// Splits on `sep` outside quotes and parentheses.
pub(crate) fn split_top_level(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut quote, mut start) = (0i32, None::<char>, 0usize);
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"' | '`') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => depth -= 1,
            (None, c) if c == sep && depth == 0 => {
                out.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// The text between the first `(` and the last `)`.
pub(crate) fn parenthesised(s: &str) -> Option<&str> {
    let open = s.find('(')?;
    let close = s.rfind(')')?;
    (close > open).then(|| &s[open + 1..close])
}

/// `expr AS alias` → (`expr`, `Some(alias)`).
pub(crate) fn alias(item: &str) -> (&str, Option<&str>) {
    let item = item.trim();
    let lower = item.to_ascii_lowercase();
    match lower.rfind(" as ") {
        Some(at) => (
            item[..at].trim(),
            Some(item[at + 4..].trim().trim_matches('`')),
        ),
        None => (item, None),
    }
}

/// `CHANGE MASTER TO A = 'x', B = 2` → `[("A", "x"), ("B", "2")]` (names upper-cased).
pub(crate) fn change_options(stmt: &str) -> Vec<(String, String)> {
    let upper = stmt.to_ascii_uppercase();
    let Some(at) = upper.find(" TO ") else {
        return Vec::new();
    };
    split_top_level(&stmt[at + 4..], ',')
        .into_iter()
        .filter_map(|part| {
            let (k, v) = part.split_once('=')?;
            let v = v.trim();
            let v = if v.len() >= 2 && v.starts_with('\'') && v.ends_with('\'') {
                v[1..v.len() - 1].replace("''", "'")
            } else {
                v.to_string()
            };
            Some((k.trim().to_ascii_uppercase(), v))
        })
        .collect()
}

/// (value key, MariaDB and MySQL 5.7 name, MySQL 8.0.22+ name).
const REPLICA_COLUMNS: &[(&str, &str, &str)] = &[
    ("io_state", "Slave_IO_State", "Replica_IO_State"),
    ("host", "Master_Host", "Source_Host"),
    ("user", "Master_User", "Source_User"),
    ("port", "Master_Port", "Source_Port"),
    ("log_file", "Master_Log_File", "Source_Log_File"),
    ("read_pos", "Read_Master_Log_Pos", "Read_Source_Log_Pos"),
    ("relay_file", "Relay_Log_File", "Relay_Log_File"),
    ("relay_pos", "Relay_Log_Pos", "Relay_Log_Pos"),
    (
        "exec_file",
        "Relay_Master_Log_File",
        "Relay_Source_Log_File",
    ),
    ("io_running", "Slave_IO_Running", "Replica_IO_Running"),
    ("sql_running", "Slave_SQL_Running", "Replica_SQL_Running"),
    ("do_db", "Replicate_Do_DB", "Replicate_Do_DB"),
    ("ignore_db", "Replicate_Ignore_DB", "Replicate_Ignore_DB"),
    ("exec_pos", "Exec_Master_Log_Pos", "Exec_Source_Log_Pos"),
    ("ssl", "Master_SSL_Allowed", "Source_SSL_Allowed"),
    ("behind", "Seconds_Behind_Master", "Seconds_Behind_Source"),
    ("io_errno", "Last_IO_Errno", "Last_IO_Errno"),
    ("io_error", "Last_IO_Error", "Last_IO_Error"),
    ("sql_errno", "Last_SQL_Errno", "Last_SQL_Errno"),
    ("sql_error", "Last_SQL_Error", "Last_SQL_Error"),
    ("source_id", "Master_Server_Id", "Source_Server_Id"),
    ("delay", "SQL_Delay", "SQL_Delay"),
];

/// Columns only MariaDB has.
const MARIADB_COLUMNS: &[(&str, &str)] =
    &[("using_gtid", "Using_Gtid"), ("gtid_io_pos", "Gtid_IO_Pos")];

/// Columns only MySQL has.
const MYSQL_COLUMNS: &[(&str, &str, &str)] = &[
    ("source_uuid", "Master_UUID", "Source_UUID"),
    ("retrieved", "Retrieved_Gtid_Set", "Retrieved_Gtid_Set"),
    ("executed", "Executed_Gtid_Set", "Executed_Gtid_Set"),
    ("auto_position", "Auto_Position", "Auto_Position"),
    ("channel", "Channel_Name", "Channel_Name"),
];

fn layout(dialect: Dialect, all: bool) -> Vec<(&'static str, &'static str)> {
    let new = dialect.new_names();
    let mut cols: Vec<(&str, &str)> = Vec::new();
    if dialect == Dialect::MariaDb && all {
        cols.push(("channel", "Connection_name"));
    }
    cols.extend(
        REPLICA_COLUMNS
            .iter()
            .map(|(k, old, newer)| (*k, if new { *newer } else { *old })),
    );
    if dialect == Dialect::MariaDb {
        cols.extend(MARIADB_COLUMNS.iter().copied());
    } else {
        cols.extend(
            MYSQL_COLUMNS
                .iter()
                .map(|(k, old, newer)| (*k, if new { *newer } else { *old })),
        );
    }
    cols
}

/// The columns of the replica status statement in `dialect`.
pub(crate) fn replica_columns(dialect: Dialect, all: bool) -> Vec<String> {
    layout(dialect, all)
        .into_iter()
        .map(|(_, name)| name.to_string())
        .collect()
}

/// One replica status row in `dialect`'s column order, from values by key
/// (keys without a value are empty strings).
pub(crate) fn replica_row(
    dialect: Dialect,
    all: bool,
    values: &[(&str, Option<String>)],
) -> Vec<Option<String>> {
    layout(dialect, all)
        .into_iter()
        .map(|(key, _)| {
            values
                .iter()
                .find(|(k, _)| *k == key)
                .map_or_else(|| Some(String::new()), |(_, v)| v.clone())
        })
        .collect()
}
