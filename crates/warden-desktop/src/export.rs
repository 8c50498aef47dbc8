//! The audit log exported to a file: JSON Lines or CSV (formula-safe, see
//! [`warden_client::export`]), 0600, never replacing a file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::macros::format_description;
use warden_client::AuditRecord;
use warden_embedded::keystore::{Replace, write_private_atomic};

use crate::error::{Error, Result};
use crate::host::Host;
use crate::staff::{self, AuditFilter};

/// The export's file format, as the window names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// One JSON object per line.
    Jsonl,
    /// RFC 4180, formula-neutralised.
    Csv,
}

impl ExportFormat {
    fn extension(self) -> &'static str {
        match self {
            ExportFormat::Jsonl => "jsonl",
            ExportFormat::Csv => "csv",
        }
    }

    fn render(self, records: &[AuditRecord]) -> String {
        match self {
            ExportFormat::Jsonl => warden_client::export::to_jsonl(records),
            ExportFormat::Csv => warden_client::export::to_csv(records),
        }
    }
}

/// A finished export, for the window to show.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Exported {
    /// The file written.
    pub path: String,
    /// How many audit entries it holds.
    pub lines: usize,
}

/// Writes the audit log as `filter` narrows it to a new file in the host's
/// export folder (created if missing), readable by this user only.
pub async fn export(
    host: &impl Host,
    format: ExportFormat,
    filter: &AuditFilter,
) -> Result<Exported> {
    let records = staff::audit(host, filter).await?;
    let text = format.render(&records);
    let dir = host.export_dir();
    let stamp = time_stamp(OffsetDateTime::now_utc())?;
    let path = dir.join(format!("warden-audit-{stamp}.{}", format.extension()));
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(&dir)?;
        write_private_atomic(&path, text.as_bytes(), Replace::Never)
    };
    if let Err(source) = write() {
        return Err(Error::Export { path, source });
    }
    Ok(Exported {
        path: path.display().to_string(),
        lines: records.len(),
    })
}

/// `WARDEN_EXPORT_DIR`, else the user's Downloads folder, else `data_dir`.
pub fn default_dir(data_dir: &Path) -> PathBuf {
    std::env::var_os("WARDEN_EXPORT_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            directories::UserDirs::new().and_then(|u| u.download_dir().map(Path::to_path_buf))
        })
        .unwrap_or_else(|| data_dir.to_path_buf())
}

/// `20261129-101500-123` (UTC, milliseconds): sorts by time and is unique
/// enough for one person's exports (a clash is refused, never overwritten).
fn time_stamp(at: OffsetDateTime) -> Result<String> {
    at.to_offset(time::UtcOffset::UTC)
        .format(format_description!(
            "[year][month][day]-[hour][minute][second]-[subsecond digits:3]"
        ))
        .map_err(|e| Error::Internal(format!("cannot name the export file: {e}")))
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn time_stamps_are_civil_dates() {
        let s = time_stamp(OffsetDateTime::now_utc()).unwrap();
        assert_eq!(s.len(), "20261129-101500-123".len(), "{s}");
        assert!(s.starts_with("20"), "{s}");
    }

    #[test]
    fn time_stamps_are_utc_with_milliseconds() {
        assert_eq!(
            time_stamp(datetime!(2026-11-29 10:15:00.123456 UTC)).unwrap(),
            "20261129-101500-123"
        );
        assert_eq!(
            time_stamp(datetime!(2024-02-29 23:59:59.9 -01:00)).unwrap(),
            "20240301-005959-900",
            "in UTC, past a leap day"
        );
        assert_eq!(
            time_stamp(OffsetDateTime::UNIX_EPOCH).unwrap(),
            "19700101-000000-000"
        );
    }

    #[test]
    fn formats_are_the_windows_words() {
        assert_eq!(
            serde_json::from_value::<ExportFormat>("jsonl".into()).unwrap(),
            ExportFormat::Jsonl
        );
        assert_eq!(
            serde_json::from_value::<ExportFormat>("csv".into()).unwrap(),
            ExportFormat::Csv
        );
        assert!(serde_json::from_value::<ExportFormat>("xlsx".into()).is_err());
    }
}
