//! The config file (`--config FILE`, env `RINGCAST_CONFIG`): TOML whose
//! top-level keys are the command-line flags (`ping_interval` for
//! `--ping-interval`) and whose sections are the broker's access rules
//! ([`Access`]).
//!
//! # Flags as keys, with no code per flag
//! The set of keys, their types and their checks come from the binary's
//! clap [`Command`] itself: a key is the long name of an argument with `-`
//! written `_`; its TOML type follows the argument's value parser (boolean
//! for switches and `bool`, integer for integer types, string otherwise);
//! its value is checked by that same value parser. A flag added to the
//! binary is therefore a file key at once, with the same validation as on
//! the command line. The file's values are then handed to clap as if they
//! had been typed before the real arguments, but only for arguments that
//! neither the command line nor the environment set: this gives
//! flag > env > file > default without a second copy of any default.
//! The keys of the sections in [`FLAG_SECTIONS`] are flags too: `[proxy]
//! timeout_ms` is `--proxy-timeout-ms`.
//!
//! # Errors
//! Any problem (unreadable file, TOML syntax, unknown key, wrong type,
//! invalid value, unreadable key file, invalid pattern) is one
//! [`ConfigError`], printed as one line `FILE: KEY: what`; the binary
//! exits with code 2 before anything listens.

use std::any::TypeId;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Path, PathBuf};

use clap::error::{ContextKind, ContextValue};
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command};
use toml::{Table, Value};

use super::access::{Access, SECTIONS};
use super::admin::AdminUi;

/// Sections whose keys are flags named `<section>_<key>`: `[api] listen`
/// is `--api-listen`, `[proxy] connect_url` is `--proxy-connect-url`
/// (checked and overridden as any flag). The flat spelling
/// `proxy_connect_url` is refused, so that a file has one way to say it.
const FLAG_SECTIONS: [&str; 2] = ["api", "proxy"];

/// Arguments that are not file keys.
const NOT_KEYS: [&str; 3] = ["config", "help", "version"];

/// A wrong key in the config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    /// The key's path (`port`, `auth.jwt_issuer`, `namespace[1].rooms[0]`).
    pub key: String,
    /// What is wrong with it.
    pub what: String,
}

impl KeyError {
    /// `key` is wrong because of `what`.
    pub fn new(key: impl Into<String>, what: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            what: what.into(),
        }
    }

    /// `key` holds `found` where `expected` belongs.
    pub fn type_of(key: &str, expected: &str, found: &Value) -> Self {
        Self::new(
            key,
            format!("expected {expected}, found {}", found.type_str()),
        )
    }
}

/// Why the start stopped. The binary prints it (one line) and exits with
/// code 2; for [`ConfigError::Usage`] clap prints and exits itself.
#[derive(Debug)]
pub enum ConfigError {
    /// A command-line problem, or `--help` / `--version`: call
    /// [`clap::Error::exit`].
    Usage(clap::Error),
    /// A problem in the config file: which file, which key, what.
    File {
        /// The config file.
        file: PathBuf,
        /// The key (or `line N` for a TOML syntax error; None when the file
        /// itself cannot be read).
        key: Option<String>,
        /// What is wrong.
        what: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(e) => write!(f, "{e}"),
            Self::File { file, key, what } => {
                write!(f, "{}: ", file.display())?;
                if let Some(key) = key {
                    write!(f, "{key}: ")?;
                }
                // One line whatever the source error printed.
                f.write_str(&what.replace('\n', " "))
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// The binary's arguments with the file merged in, and the access rules.
#[derive(Debug)]
pub struct Loaded<A> {
    /// Flags, environment and file keys, by precedence.
    pub args: A,
    /// `[auth]` and `[[namespace]]` (open without a file).
    pub access: Access,
    /// The config file read, if any.
    pub file: Option<PathBuf>,
    /// `[admin_ui]`, when present.
    pub admin_ui: Option<AdminUi>,
}

/// Parses `argv` with `A`'s clap command, reads the config file named by
/// its `--config` argument (when it has one and it is set) and merges it.
pub fn load<A: clap::Parser>(argv: Vec<OsString>) -> Result<Loaded<A>, ConfigError> {
    let cmd = A::command();
    let matches = cmd
        .clone()
        .try_get_matches_from(&argv)
        .map_err(ConfigError::Usage)?;
    let config_id = cmd
        .get_arguments()
        .find(|a| a.get_long() == Some("config"))
        .map(|a| a.get_id().as_str().to_owned());
    let Some(file) = config_id.and_then(|id| matches.get_one::<PathBuf>(&id).cloned()) else {
        let args = A::from_arg_matches(&matches).map_err(ConfigError::Usage)?;
        return Ok(Loaded {
            args,
            access: Access::open(),
            file: None,
            admin_ui: None,
        });
    };
    let (injected, access, admin_ui) = read_file(&cmd, &matches, &file)?;
    let mut merged = argv;
    let rest = merged.split_off(merged.len().min(1));
    merged.extend(injected);
    merged.extend(rest);
    let matches = cmd
        .try_get_matches_from(merged)
        .map_err(ConfigError::Usage)?;
    let args = A::from_arg_matches(&matches).map_err(ConfigError::Usage)?;
    Ok(Loaded {
        args,
        access,
        file: Some(file),
        admin_ui,
    })
}

/// The arguments the file contributes (as `--name=value`), its access
/// rules and its `[admin_ui]`.
fn read_file(
    cmd: &Command,
    matches: &ArgMatches,
    file: &Path,
) -> Result<(Vec<OsString>, Access, Option<AdminUi>), ConfigError> {
    let fail = |key: Option<String>, what: String| ConfigError::File {
        file: file.to_owned(),
        key,
        what,
    };
    let text =
        std::fs::read_to_string(file).map_err(|e| fail(None, format!("cannot read: {e}")))?;
    let top: Table = toml::from_str(&text).map_err(|e| {
        let line = e.span().map_or(1, |s| {
            text[..s.start.min(text.len())].lines().count().max(1)
        });
        fail(
            Some(format!("line {line}")),
            format!("TOML syntax: {}", e.message()),
        )
    })?;
    let key_fail = |e: KeyError| fail(Some(e.key), e.what);
    let mut injected = Vec::new();
    // (key as shown in errors, the flag's key, value)
    let mut entries: Vec<(String, String, &Value)> = Vec::new();
    for (key, value) in &top {
        if SECTIONS.contains(&key.as_str()) || key == "admin_ui" {
            continue;
        }
        if let Some(section) = FLAG_SECTIONS
            .iter()
            .find(|s| key.starts_with(&format!("{s}_")))
        {
            let rest = &key[section.len() + 1..];
            return Err(key_fail(KeyError::new(
                key,
                format!("unknown key (write it as [{section}] {rest})"),
            )));
        }
        match value {
            Value::Table(t) if FLAG_SECTIONS.contains(&key.as_str()) => {
                entries.extend(
                    t.iter()
                        .map(|(k, v)| (format!("{key}.{k}"), format!("{key}_{k}"), v)),
                );
            }
            _ if FLAG_SECTIONS.contains(&key.as_str()) => {
                let expected = format!("a table ([{key}])");
                return Err(key_fail(KeyError::type_of(key, &expected, value)));
            }
            _ => entries.push((key.clone(), key.clone(), value)),
        }
    }
    for (key, flag_key, value) in entries {
        let key = key.as_str();
        let Some(arg) = flag_args(cmd).find(|a| key_of(a).as_deref() == Some(&flag_key)) else {
            return Err(key_fail(KeyError::new(key, "unknown key")));
        };
        // Checked even when a flag or the environment overrides it: a broken
        // file is reported, not hidden until the override goes away.
        let values = file_values(arg, key, value).map_err(key_fail)?;
        let source = matches.value_source(arg.get_id().as_str());
        if !matches!(
            source,
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        ) {
            injected.extend(values);
        }
    }
    let dir = file.parent().unwrap_or_else(|| Path::new("."));
    let access = Access::from_sections(&top, dir).map_err(key_fail)?;
    let admin_ui = top
        .get("admin_ui")
        .map(|s| AdminUi::from_section(s, &access))
        .transpose()
        .map_err(key_fail)?;
    Ok((injected, access, admin_ui))
}

/// The arguments that have a file key.
fn flag_args(cmd: &Command) -> impl Iterator<Item = &Arg> {
    cmd.get_arguments()
        .filter(|a| a.get_long().is_some() && !NOT_KEYS.contains(&a.get_id().as_str()))
}

/// The file key of `arg`: its long name with `-` written `_`.
fn key_of(arg: &Arg) -> Option<String> {
    arg.get_long().map(|l| l.replace('-', "_"))
}

/// What TOML type an argument takes.
#[derive(Clone, Copy)]
enum Kind {
    Bool,
    Integer,
    Float,
    Text,
}

impl Kind {
    fn of(arg: &Arg) -> Self {
        let id = arg.get_value_parser().type_id();
        let is = |t: TypeId| id == t;
        if is(TypeId::of::<bool>()) {
            Self::Bool
        } else if [
            TypeId::of::<u8>(),
            TypeId::of::<u16>(),
            TypeId::of::<u32>(),
            TypeId::of::<u64>(),
            TypeId::of::<usize>(),
            TypeId::of::<i8>(),
            TypeId::of::<i16>(),
            TypeId::of::<i32>(),
            TypeId::of::<i64>(),
            TypeId::of::<isize>(),
        ]
        .into_iter()
        .any(is)
        {
            Self::Integer
        } else if is(TypeId::of::<f64>()) || is(TypeId::of::<f32>()) {
            Self::Float
        } else {
            Self::Text
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Bool => "a boolean",
            Self::Integer => "an integer",
            Self::Float => "a number",
            Self::Text => "a string",
        }
    }

    /// `value` as the text clap parses, if it has this type.
    fn text(self, value: &Value) -> Option<String> {
        match (self, value) {
            (Self::Bool, Value::Boolean(b)) => Some(b.to_string()),
            (Self::Integer | Self::Float, Value::Integer(i)) => Some(i.to_string()),
            (Self::Float, Value::Float(f)) => Some(f.to_string()),
            (Self::Text, Value::String(s)) => Some(s.clone()),
            _ => None,
        }
    }
}

/// The command-line arguments equivalent to `key = value`, checked by the
/// argument's own value parser.
fn file_values(arg: &Arg, key: &str, value: &Value) -> Result<Vec<OsString>, KeyError> {
    // Invariant: flag_args only yields arguments with a long name.
    let long = arg.get_long().unwrap_or_default();
    let switch = |on_when: bool| match value {
        Value::Boolean(b) if *b == on_when => Ok(vec![OsString::from(format!("--{long}"))]),
        Value::Boolean(_) => Ok(vec![]),
        other => Err(KeyError::type_of(key, "a boolean", other)),
    };
    let items: Vec<&Value> = match arg.get_action() {
        ArgAction::SetTrue => return switch(true),
        ArgAction::SetFalse => return switch(false),
        ArgAction::Set => vec![value],
        ArgAction::Append => match value {
            Value::Array(list) => list.iter().collect(),
            one => vec![one],
        },
        _ => return Err(KeyError::new(key, "cannot be set in the config file")),
    };
    let kind = Kind::of(arg);
    items
        .into_iter()
        .map(|item| {
            let text = kind
                .text(item)
                .ok_or_else(|| KeyError::type_of(key, kind.name(), item))?;
            check_value(arg, &text).map_err(|what| KeyError::new(key, what))?;
            Ok(OsString::from(format!("--{long}={text}")))
        })
        .collect()
}

/// Runs `text` through `arg`'s value parser (alone, without its
/// environment variable); `Err` says why it is refused.
fn check_value(arg: &Arg, text: &str) -> Result<(), String> {
    let probe = arg.clone().env(None).required(false);
    let long = arg.get_long().unwrap_or_default();
    Command::new("ringcast")
        .arg(probe)
        .try_get_matches_from([
            OsStr::new("ringcast").to_owned(),
            OsString::from(format!("--{long}={text}")),
        ])
        .map(drop)
        .map_err(|e| {
            if let Some(source) = std::error::Error::source(&e) {
                return format!("invalid value {text:?}: {source}");
            }
            if let Some(ContextValue::Strings(valid)) = e.get(ContextKind::ValidValue) {
                return format!(
                    "invalid value {text:?} (possible values: {})",
                    valid.join(", ")
                );
            }
            format!("invalid value {text:?}")
        })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[derive(Debug, clap::Parser)]
    struct Args {
        #[arg(long, env = "RINGCAST_TEST_CONFIG")]
        config: Option<PathBuf>,
        #[arg(long, env = "RINGCAST_TEST_PORT", default_value_t = 3000)]
        port: u16,
        #[arg(long, default_value_t = 25_000)]
        ping_interval: u64,
        #[arg(long, default_value = "/socket.io/")]
        path: String,
        #[arg(long)]
        no_pin: bool,
        #[arg(long, default_value = "dynamic")]
        mode: ringcast_cluster_wire::SubscriptionMode,
        #[arg(long)]
        api_listen: Option<std::net::SocketAddr>,
        #[arg(long)]
        api_key: Option<String>,
        #[arg(long, default_value_t = 3000)]
        proxy_timeout_ms: u64,
    }

    fn with_file(toml: &str, args: &[&str]) -> Result<Loaded<Args>, ConfigError> {
        let (path, mut f) = tempfile_in_target();
        f.write_all(toml.as_bytes()).expect("temp file writes");
        let mut argv: Vec<OsString> =
            vec!["ringcast".into(), "--config".into(), path.clone().into()];
        argv.extend(args.iter().map(OsString::from));
        let loaded = load::<Args>(argv);
        // Leave no file behind (the load has read it).
        let _ = std::fs::remove_file(&path);
        loaded
    }

    /// A file in the system temp folder, unique per call.
    fn tempfile_in_target() -> (PathBuf, std::fs::File) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "ringcast-file-test-{}-{n}.toml",
            std::process::id()
        ));
        // Invariant: the system temp folder is writable in tests.
        let f = std::fs::File::create(&path).expect("temp file");
        (path, f)
    }

    fn file_error(r: Result<Loaded<Args>, ConfigError>) -> (Option<String>, String) {
        match r {
            Err(ConfigError::File { key, what, .. }) => (key, what),
            other => panic!("expected a file error, got {other:?}"),
        }
    }

    #[test]
    fn keys_fill_what_flags_leave_unset() {
        let l = with_file(
            "port = 4000\nping_interval = 5\nno_pin = true\nmode = \"static\"",
            &[],
        )
        .expect("loads");
        assert_eq!(l.args.port, 4000);
        assert_eq!(l.args.ping_interval, 5);
        assert!(l.args.no_pin);
        assert_eq!(l.args.mode, ringcast_cluster_wire::SubscriptionMode::Static);
        assert!(l.access.is_open());
        let l = with_file("port = 4000", &["--port", "5000"]).expect("loads");
        assert_eq!(l.args.port, 5000, "flag beats file");
        assert_eq!(l.args.path, "/socket.io/", "default when nowhere");
    }

    #[test]
    fn bad_keys_name_the_key() {
        let (key, what) = file_error(with_file("prot = 1", &[]));
        assert_eq!(
            (key.as_deref(), what.as_str()),
            (Some("prot"), "unknown key")
        );
        let (key, what) = file_error(with_file("port = \"x\"", &[]));
        assert_eq!(key.as_deref(), Some("port"));
        assert_eq!(what, "expected an integer, found string");
        let (key, what) = file_error(with_file("port = 70000", &[]));
        assert_eq!(key.as_deref(), Some("port"));
        assert!(what.contains("70000"), "{what}");
        let (key, what) = file_error(with_file("mode = \"sometimes\"", &[]));
        assert_eq!(key.as_deref(), Some("mode"));
        assert!(
            what.contains("sometimes") && what.contains("dynamic"),
            "{what}"
        );
        let (key, _) = file_error(with_file("no_pin = 1", &[]));
        assert_eq!(key.as_deref(), Some("no_pin"));
        let (key, _) = file_error(with_file("config = \"x\"", &[]));
        assert_eq!(key.as_deref(), Some("config"));
        let (key, _) = file_error(with_file("[proxy]\nconnect_url = \"x\"", &[]));
        assert_eq!(key.as_deref(), Some("proxy.connect_url"));
        let (key, _) = file_error(with_file("[proxy]\ntimeout_ms = \"x\"", &[]));
        assert_eq!(key.as_deref(), Some("proxy.timeout_ms"));
        let (key, what) = file_error(with_file("proxy_timeout_ms = 5", &[]));
        assert_eq!(key.as_deref(), Some("proxy_timeout_ms"));
        assert!(what.contains("[proxy] timeout_ms"), "{what}");
        let (key, _) = file_error(with_file("proxy = 5", &[]));
        assert_eq!(key.as_deref(), Some("proxy"));
        let (key, what) = file_error(with_file("api_key = \"x\"", &[]));
        assert_eq!(key.as_deref(), Some("api_key"));
        assert!(what.contains("[api] key"), "{what}");
        let l = with_file("[proxy]\ntimeout_ms = 50", &[]).expect("loads");
        assert_eq!(l.args.proxy_timeout_ms, 50);
        let l = with_file("[proxy]\ntimeout_ms = 50", &["--proxy-timeout-ms", "7"]).expect("loads");
        assert_eq!(l.args.proxy_timeout_ms, 7, "flag beats file");
        let (key, what) = file_error(with_file("port = = 1", &[]));
        assert_eq!(key.as_deref(), Some("line 1"));
        assert!(what.starts_with("TOML syntax"), "{what}");
        // Reported even though the flag overrides it.
        let (key, _) = file_error(with_file("port = \"x\"", &["--port", "1"]));
        assert_eq!(key.as_deref(), Some("port"));
    }

    #[test]
    fn api_section_keys_are_its_flags() {
        let l = with_file(
            "[api]\nlisten = \"127.0.0.1:3001\"\nkey = \"k\"",
            &["--api-key", "flag"],
        )
        .expect("loads");
        assert_eq!(l.args.api_listen, Some(([127, 0, 0, 1], 3001).into()));
        assert_eq!(l.args.api_key.as_deref(), Some("flag"), "flag beats file");
        let (key, what) = file_error(with_file("[api]\nlisten = \"nowhere\"", &[]));
        assert_eq!(key.as_deref(), Some("api.listen"));
        assert!(what.contains("nowhere"), "{what}");
        let (key, what) = file_error(with_file("[api]\nport = 1", &[]));
        assert_eq!(
            (key.as_deref(), what.as_str()),
            (Some("api.port"), "unknown key")
        );
        let (key, _) = file_error(with_file("api = 1", &[]));
        assert_eq!(key.as_deref(), Some("api"));
    }

    #[test]
    fn sections_are_checked() {
        let (key, what) = file_error(with_file(
            "[[namespace]]\nname = \"/chat\"\nrooms = [\"a*b\"]",
            &[],
        ));
        assert_eq!(key.as_deref(), Some("namespace[0].rooms[0]"));
        assert!(what.contains("invalid pattern"), "{what}");
        let (key, _) = file_error(with_file("[auth]\njwt_hs256_secret = 5", &[]));
        assert_eq!(key.as_deref(), Some("auth.jwt_hs256_secret"));
        let (key, what) = file_error(with_file(
            "[auth]\njwt_rs256_public_key_file = \"/nonexistent/pub.pem\"",
            &[],
        ));
        assert_eq!(key.as_deref(), Some("auth.jwt_rs256_public_key_file"));
        assert!(what.contains("cannot read"), "{what}");
        let (key, _) = file_error(with_file("[auth]\njwt_secret = \"x\"", &[]));
        assert_eq!(key.as_deref(), Some("auth.jwt_secret"));
        let (key, _) = file_error(with_file("[[namespace]]\nname = \"/\"\nanon = true", &[]));
        assert_eq!(key.as_deref(), Some("namespace[0].anon"));
        let l = with_file(
            "[auth]\njwt_hs256_secret = \"k\"\n[[namespace]]\nname = \"/chat\"\nanonymous = true\nrooms = [\"public:*\"]",
            &[],
        )
        .expect("loads");
        let names: Vec<_> = l
            .access
            .namespaces
            .iter()
            .map(|n| n.name.as_str())
            .collect();
        assert_eq!(names, ["/", "/chat"]);
    }
}
