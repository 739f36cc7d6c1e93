//! orchestrator-client's command line: short flags, and long ones with one
//! or two dashes, translated to the short ones.

use std::collections::BTreeMap;

/// Parsed flags (by their short letter).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Args {
    flags: BTreeMap<char, String>,
    /// `-h` / `--help` / `help`.
    pub help: bool,
    /// `--version`.
    pub version: bool,
}

/// Flags whose values are secrets: never shown.
const SECRET: &[char] = &['b', 'e'];

impl std::fmt::Debug for Args {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let flags: BTreeMap<char, &str> = self
            .flags
            .iter()
            .map(|(k, v)| {
                let shown = if SECRET.contains(k) { "<redacted>" } else { v };
                (*k, shown)
            })
            .collect();
        f.debug_struct("Args")
            .field("flags", &flags)
            .field("help", &self.help)
            .field("version", &self.version)
            .finish()
    }
}

pub(crate) const LONG: &[(&str, char)] = &[
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
    ("default-port", 'D'),
    ("help", 'h'),
];

const TAKES_VALUE: &str = "cidsaourRtlHDUPqbenS";

/// What went wrong parsing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgsError {
    /// An option nobody knows (shown without any `=value`).
    #[error("unknown option: {0}")]
    Unknown(String),
    /// A word that is no option.
    #[error("unexpected argument: {0}")]
    Unexpected(String),
    /// An option without its value.
    #[error("option {0} requires a value")]
    MissingValue(String),
}

impl Args {
    /// Parses arguments (without the program name).
    pub fn parse(argv: &[String]) -> Result<Self, ArgsError> {
        let mut out = Args::default();
        let mut it = argv.iter();
        let mut after_secret = false;
        while let Some(arg) = it.next() {
            let name = arg.trim_start_matches('-');
            if !arg.starts_with('-') || name.is_empty() {
                if arg == "help" {
                    out.help = true;
                    continue;
                }
                // A stray word right after -b/-e may be part of a secret.
                let shown = if after_secret {
                    "(hidden: it follows -b/--auth or -e/--headers-auth)".to_string()
                } else {
                    arg.clone()
                };
                return Err(ArgsError::Unexpected(shown));
            }
            after_secret = false;
            let (name, inline) = match name.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (name, None),
            };
            let dashes = &arg[..arg.len() - arg.trim_start_matches('-').len()];
            let unknown = || ArgsError::Unknown(format!("{dashes}{name}"));
            if name == "version" {
                out.version = true;
                continue;
            }
            let letter = if name.chars().count() == 1 {
                name.chars().next()
            } else {
                LONG.iter().find(|(l, _)| *l == name).map(|(_, c)| *c)
            };
            let Some(letter) = letter else {
                return Err(unknown());
            };
            if letter == 'h' {
                out.help = true;
                continue;
            }
            if !TAKES_VALUE.contains(letter) {
                return Err(unknown());
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
            after_secret = SECRET.contains(&letter);
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
            Err(ArgsError::Unexpected("topology".into()))
        );
    }

    #[test]
    fn help_and_version_are_flags() {
        assert!(parse(&["--help"]).unwrap().help);
        assert!(parse(&["-h"]).unwrap().help);
        assert!(parse(&["-help"]).unwrap().help);
        assert!(parse(&["help"]).unwrap().help);
        assert!(parse(&["--version"]).unwrap().version);
        assert!(parse(&["-version"]).unwrap().version);
        assert_eq!(parse(&["-D", "3307"]).unwrap().get('D'), Some("3307"));
        assert_eq!(
            parse(&["--default-port=3307"]).unwrap().get('D'),
            Some("3307")
        );
    }

    #[test]
    fn authentication_flags_are_read_and_never_shown() {
        let a = parse(&[
            "-c",
            "clusters",
            "-b",
            "bob:secret",
            "--headers-auth",
            "X-User: bob",
        ])
        .unwrap();
        assert_eq!(a.get('b'), Some("bob:secret"));
        assert_eq!(a.get('e'), Some("X-User: bob"));
        let a = parse(&["--auth=bob:secret"]).unwrap();
        assert_eq!(a.get('b'), Some("bob:secret"));
        assert!(!format!("{a:?}").contains("secret"));
        // A misspelt flag is named without its value.
        assert_eq!(
            parse(&["--auht=bob:secret"]),
            Err(ArgsError::Unknown("--auht".into()))
        );
        // A password split from its user by a space is not echoed.
        let e = parse(&["-b", "bob", "secret"]).unwrap_err().to_string();
        assert!(!e.contains("secret"), "{e}");
    }
}
