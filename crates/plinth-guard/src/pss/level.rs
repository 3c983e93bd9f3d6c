//! Policy levels and versions: `privileged` < `baseline` < `restricted`, and `latest` or
//! `v1.N`, with upstream's parsing rules and string forms.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// The newest policy version whose checks this release knows. `latest` and every
/// `v1.N` with N above it evaluate as this version.
pub const MAX_MINOR: u64 = 37;

/// A Pod Security Standards level, ordered by strictness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Unrestricted.
    Privileged,
    /// Prevents known privilege escalations.
    Baseline,
    /// Current pod hardening best practice.
    Restricted,
}

impl Level {
    /// The label value: `privileged`, `baseline` or `restricted`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Level::Privileged => "privileged",
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A level that is not one of the three names (matching is case-sensitive).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be one of privileged, baseline, restricted")]
pub struct ParseLevelError;

impl FromStr for Level {
    type Err = ParseLevelError;

    fn from_str(s: &str) -> Result<Level, ParseLevelError> {
        match s {
            "privileged" => Ok(Level::Privileged),
            "baseline" => Ok(Level::Baseline),
            "restricted" => Ok(Level::Restricted),
            _ => Err(ParseLevelError),
        }
    }
}

/// A policy version: `latest`, or `v1.N` (the major version is always 1).
///
/// Ordered as upstream's `Older`: every `v1.N` is older than `latest`. `Display` keeps
/// the value as written (`v1.99` stays `v1.99`); evaluation clamps it to [`MAX_MINOR`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// The newest checks this release knows.
    Latest,
    /// `v1.N`. Upstream accepts any N that fits a signed 64-bit integer.
    Minor(u64),
}

impl Version {
    /// The minor version whose checks apply: N clamped to [`MAX_MINOR`], `latest` = [`MAX_MINOR`].
    pub const fn effective_minor(self) -> u64 {
        match self {
            Version::Minor(n) if n < MAX_MINOR => n,
            _ => MAX_MINOR,
        }
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Version) -> Ordering {
        match (self, other) {
            (Version::Latest, Version::Latest) => Ordering::Equal,
            (Version::Latest, Version::Minor(_)) => Ordering::Greater,
            (Version::Minor(_), Version::Latest) => Ordering::Less,
            (Version::Minor(a), Version::Minor(b)) => a.cmp(b),
        }
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Version) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Version::Latest => f.write_str("latest"),
            Version::Minor(n) => write!(f, "v1.{n}"),
        }
    }
}

/// A version that is neither `latest` nor `v1.N` (N without leading zeros, at most
/// `i64::MAX`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be \"latest\" or \"v1.x\"")]
pub struct ParseVersionError;

impl FromStr for Version {
    type Err = ParseVersionError;

    fn from_str(s: &str) -> Result<Version, ParseVersionError> {
        if s == "latest" {
            return Ok(Version::Latest);
        }
        let digits = s.strip_prefix("v1.").ok_or(ParseVersionError)?;
        let well_formed = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'));
        if !well_formed {
            return Err(ParseVersionError);
        }
        match digits.parse::<i64>() {
            Ok(n) => Ok(Version::Minor(n.unsigned_abs())),
            Err(_) => Err(ParseVersionError),
        }
    }
}

/// A level at a version, written `level:version` (e.g. `restricted:latest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LevelVersion {
    /// The level.
    pub level: Level,
    /// The version of that level's checks.
    pub version: Version,
}

impl LevelVersion {
    /// `privileged:latest`, upstream's default for every mode.
    pub const PRIVILEGED_LATEST: LevelVersion =
        LevelVersion::new(Level::Privileged, Version::Latest);

    /// A level at a version.
    pub const fn new(level: Level, version: Version) -> LevelVersion {
        LevelVersion { level, version }
    }

    /// Upstream's equivalence: both privileged (any versions), or both fields equal.
    pub fn equivalent(&self, other: &LevelVersion) -> bool {
        (self.level == Level::Privileged && other.level == Level::Privileged) || self == other
    }
}

impl Default for LevelVersion {
    fn default() -> LevelVersion {
        LevelVersion::PRIVILEGED_LATEST
    }
}

impl fmt::Display for LevelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.level, self.version)
    }
}

/// Why a `level[:version]` string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseLevelVersionError {
    /// The level part is wrong.
    #[error("level {value:?}: {source}")]
    Level {
        /// The level as written.
        value: String,
        /// Why it is wrong.
        source: ParseLevelError,
    },
    /// The version part is wrong.
    #[error("version {value:?}: {source}")]
    Version {
        /// The version as written.
        value: String,
        /// Why it is wrong.
        source: ParseVersionError,
    },
}

impl FromStr for LevelVersion {
    type Err = ParseLevelVersionError;

    /// `restricted` (meaning `restricted:latest`), `restricted:v1.30`, `baseline:latest`.
    fn from_str(s: &str) -> Result<LevelVersion, ParseLevelVersionError> {
        let (level, version) = s.split_once(':').unwrap_or((s, "latest"));
        let level = level
            .parse()
            .map_err(|source| ParseLevelVersionError::Level {
                value: level.to_owned(),
                source,
            })?;
        let version = version
            .parse()
            .map_err(|source| ParseLevelVersionError::Version {
                value: version.to_owned(),
                source,
            })?;
        Ok(LevelVersion { level, version })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_like_upstream() {
        // Expectations from upstream's api.ParseVersion.
        let valid = [
            ("v1.0", Version::Minor(0)),
            ("v1.37", Version::Minor(37)),
            ("v1.999", Version::Minor(999)),
            ("latest", Version::Latest),
            ("v1.9223372036854775807", Version::Minor(i64::MAX as u64)),
        ];
        for (text, want) in valid {
            assert_eq!(text.parse::<Version>(), Ok(want), "{text}");
            assert_eq!(want.to_string(), text);
        }
        for text in [
            "v1.00",
            "v1.05",
            "v2.0",
            "1.20",
            "Latest",
            "v1.",
            " v1.1",
            "v1.1 ",
            "v1.+1",
            "v1.-1",
            "v1.99999999999999999999",
            "v1.9223372036854775808",
            "",
        ] {
            assert_eq!(text.parse::<Version>(), Err(ParseVersionError), "{text:?}");
        }
        assert_eq!(
            ParseVersionError.to_string(),
            "must be \"latest\" or \"v1.x\""
        );
    }

    #[test]
    fn levels_parse_case_sensitively() {
        assert_eq!("restricted".parse(), Ok(Level::Restricted));
        for bad in ["Restricted", "", "x", " baseline"] {
            assert_eq!(bad.parse::<Level>(), Err(ParseLevelError));
        }
        assert_eq!(
            ParseLevelError.to_string(),
            "must be one of privileged, baseline, restricted"
        );
        assert!(Level::Privileged < Level::Baseline && Level::Baseline < Level::Restricted);
    }

    #[test]
    fn level_versions_parse_and_print() {
        let lv: LevelVersion = "restricted".parse().expect("parses");
        assert_eq!(lv.to_string(), "restricted:latest");
        let lv: LevelVersion = "baseline:v1.30".parse().expect("parses");
        assert_eq!(lv, LevelVersion::new(Level::Baseline, Version::Minor(30)));
        assert_eq!(lv.to_string(), "baseline:v1.30");
        assert!("baseline:v1.030".parse::<LevelVersion>().is_err());
        assert!("strict:latest".parse::<LevelVersion>().is_err());
        assert!(Version::Minor(1_000) < Version::Latest);
        assert_eq!(Version::Minor(1_000).effective_minor(), MAX_MINOR);
        assert_eq!(Version::Latest.effective_minor(), MAX_MINOR);
        assert_eq!(Version::Minor(12).effective_minor(), 12);
        assert!(
            LevelVersion::new(Level::Privileged, Version::Minor(3))
                .equivalent(&LevelVersion::PRIVILEGED_LATEST)
        );
        assert!(
            !LevelVersion::new(Level::Baseline, Version::Minor(37))
                .equivalent(&LevelVersion::new(Level::Baseline, Version::Latest))
        );
    }
}
