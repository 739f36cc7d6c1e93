//! orchestrator-client's command line: short flags, and long ones with one
//! or two dashes, translated to the short ones.

use std::collections::BTreeMap;

/// Parsed flags (by their short letter) and leftovers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Args {
    flags: BTreeMap<char, String>,
    /// `-h` / `--help`.
    pub help: bool,
}

const LONG: &[(&str, char)] = &[
    ("command", 'c'),
    ("instance", 'i'),
    ("destination", 'd'),
    ("alias", 'a'),
    ("owner", 'o'),
    ("reason", 'r'),
    ("duration", 'u'),
    ("promotion-rule", 'R'),
    ("tag", 't'),
    ("pool", 'l'),
    ("hostname", 'H'),
    ("api", 'U'),
    ("path", 'P'),
    ("query", 'q'),
    ("auth", 'b'),
    ("headers-auth", 'e'),
    ("binlog", 'n'),
    ("seconds", 'S'),
    ("help", 'h'),
];

const TAKES_VALUE: &str = "cidsaourRtlHDUPqbenS";

/// What went wrong parsing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgsError {
    /// An option nobody knows.
    #[error("unknown option: {0}")]
    Unknown(String),
    /// An option without its value.
    #[error("option {0} requires a value")]
    MissingValue(String),
}

impl Args {
    /// Parses arguments (without the program name).
    pub fn parse(argv: &[String]) -> Result<Self, ArgsError> {
        let mut out = Args::default();
        let mut it = argv.iter();
        while let Some(arg) = it.next() {
            let name = arg.trim_start_matches('-');
            if !arg.starts_with('-') || name.is_empty() {
                return Err(ArgsError::Unknown(arg.clone()));
            }
            let (name, inline) = match name.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (name, None),
            };
            let letter = if name.chars().count() == 1 {
                name.chars().next()
            } else {
                LONG.iter().find(|(l, _)| *l == name).map(|(_, c)| *c)
            };
            let Some(letter) = letter else {
                return Err(ArgsError::Unknown(arg.clone()));
            };
            if letter == 'h' {
                out.help = true;
                continue;
            }
            if !TAKES_VALUE.contains(letter) {
                return Err(ArgsError::Unknown(arg.clone()));
            }
            let value = match inline {
                Some(v) => v,
                None => it
                    .next()
                    .cloned()
                    .ok_or_else(|| ArgsError::MissingValue(arg.clone()))?,
            };
            // -s is a synonym of -d (destination).
            let letter = if letter == 's' { 'd' } else { letter };
            out.flags.insert(letter, value);
        }
        Ok(out)
    }

    /// The value of a flag.
    pub fn get(&self, flag: char) -> Option<&str> {
        self.flags
            .get(&flag)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: &[&str]) -> Result<Args, ArgsError> {
        Args::parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn long_options_take_one_or_two_dashes() {
        let a = parse(&[
            "-command",
            "topology",
            "--instance",
            "db1:3306",
            "-s",
            "db2",
        ])
        .unwrap();
        assert_eq!(a.get('c'), Some("topology"));
        assert_eq!(a.get('i'), Some("db1:3306"));
        assert_eq!(a.get('d'), Some("db2"));
        let b = parse(&["-c", "clusters", "--api=http://x:3000"]).unwrap();
        assert_eq!(b.get('U'), Some("http://x:3000"));
    }

    #[test]
    fn bad_options_are_refused() {
        assert_eq!(parse(&["-x", "1"]), Err(ArgsError::Unknown("-x".into())));
        assert_eq!(parse(&["--nope"]), Err(ArgsError::Unknown("--nope".into())));
        assert_eq!(parse(&["-c"]), Err(ArgsError::MissingValue("-c".into())));
        assert_eq!(
            parse(&["topology"]),
            Err(ArgsError::Unknown("topology".into()))
        );
    }
}
