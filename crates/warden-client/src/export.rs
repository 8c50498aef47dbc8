//! Audit log export: JSON Lines and CSV (RFC 4180), for the staff console
//! and scripts.
//!
//! CSV cells that a spreadsheet would run as a formula (starting with `=`,
//! `+`, `-`, `@`, tab or carriage return) get a leading apostrophe, since
//! usernames, reasons and addresses in the log come from users.

use warden_proto::AuditRecord;

/// The CSV header row's columns, in order.
const CSV_COLUMNS: [&str; 10] = [
    "id",
    "at",
    "kind",
    "subject",
    "actor",
    "session_id",
    "jti",
    "address",
    "reason",
    "detail",
];

/// One JSON object per line, each line ending in `\n`.
pub fn to_jsonl(records: &[AuditRecord]) -> String {
    let mut out = String::new();
    for record in records {
        // AuditRecord is plain data (strings, numbers, a JSON value): it always serialises.
        match serde_json::to_string(record) {
            Ok(line) => out.push_str(&line),
            Err(e) => out.push_str(&serde_json::json!({ "error": e.to_string() }).to_string()),
        }
        out.push('\n');
    }
    out
}

/// RFC 4180 CSV with a header row and CRLF line endings.
pub fn to_csv(records: &[AuditRecord]) -> String {
    let mut out = String::new();
    push_row(
        &mut out,
        CSV_COLUMNS.iter().map(|c| Cell::Text(c.to_string())),
    );
    for r in records {
        let opt_num = |n: Option<i64>| n.map(Cell::Number).unwrap_or(Cell::Empty);
        let opt_text = |t: &Option<String>| t.clone().map(Cell::Text).unwrap_or(Cell::Empty);
        let detail = if r.detail.is_null() {
            Cell::Empty
        } else {
            Cell::Text(r.detail.to_string())
        };
        push_row(
            &mut out,
            [
                Cell::Number(r.id),
                Cell::Number(r.at),
                Cell::Text(r.kind.clone()),
                opt_num(r.subject),
                opt_num(r.actor),
                opt_text(&r.session_id),
                opt_text(&r.jti),
                opt_text(&r.address),
                opt_text(&r.reason),
                detail,
            ],
        );
    }
    out
}

enum Cell {
    Empty,
    Number(i64),
    Text(String),
}

fn push_row(out: &mut String, cells: impl IntoIterator<Item = Cell>) {
    for (i, cell) in cells.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match cell {
            Cell::Empty => {}
            Cell::Number(n) => out.push_str(&n.to_string()),
            Cell::Text(text) => out.push_str(&csv_field(&text)),
        }
    }
    out.push_str("\r\n");
}

/// A text cell: formula-neutralised, then quoted when RFC 4180 requires it.
fn csv_field(text: &str) -> String {
    let neutral = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if neutral.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", neutral.replace('"', "\"\""))
    } else {
        neutral
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn record(id: i64, reason: Option<&str>, address: Option<&str>) -> AuditRecord {
        AuditRecord {
            id,
            at: 1_750_000_000 + id,
            kind: "staff_revoked".into(),
            subject: Some(7),
            actor: Some(1),
            session_id: Some("fedcba9876543210fedcba9876543210".into()),
            jti: None,
            address: address.map(str::to_string),
            reason: reason.map(str::to_string),
            detail: json!({"note": "a, \"b\""}),
        }
    }

    /// A minimal RFC 4180 reader, to check the writer round-trips.
    fn parse_csv(text: &str) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        let mut row = Vec::new();
        let mut field = String::new();
        let mut quoted = false;
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match (quoted, c) {
                (true, '"') if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                (true, '"') => quoted = false,
                (true, c) => field.push(c),
                (false, '"') => quoted = true,
                (false, ',') => row.push(std::mem::take(&mut field)),
                (false, '\r') if chars.peek() == Some(&'\n') => {
                    chars.next();
                    row.push(std::mem::take(&mut field));
                    rows.push(std::mem::take(&mut row));
                }
                (false, c) => field.push(c),
            }
        }
        assert!(
            !quoted && field.is_empty() && row.is_empty(),
            "trailing data"
        );
        rows
    }

    #[test]
    fn jsonl_is_one_parseable_object_per_line() {
        let records = vec![record(1, Some("line\nbreak"), None), record(2, None, None)];
        let text = to_jsonl(&records);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(text.ends_with('\n'));
        for (line, want) in lines.iter().zip(&records) {
            let back: AuditRecord = serde_json::from_str(line).unwrap();
            assert_eq!(&back, want);
        }
        assert_eq!(to_jsonl(&[]), "");
    }

    #[test]
    fn csv_quotes_per_rfc_4180_and_round_trips() {
        let records = vec![
            record(1, Some("said \"hi\", then left"), Some("10.0.0.1")),
            record(2, Some("two\r\nlines"), None),
        ];
        let text = to_csv(&records);
        assert!(
            text.starts_with("id,at,kind,subject,actor,session_id,jti,address,reason,detail\r\n")
        );
        assert!(text.contains("\"said \"\"hi\"\", then left\""), "{text}");
        let rows = parse_csv(&text);
        assert_eq!(rows.len(), 3);
        assert!(rows.iter().all(|r| r.len() == CSV_COLUMNS.len()));
        assert_eq!(rows[1][0], "1");
        assert_eq!(rows[1][3], "7");
        assert_eq!(rows[1][6], "", "missing jti is an empty cell");
        assert_eq!(rows[1][8], "said \"hi\", then left");
        assert_eq!(rows[2][8], "two\r\nlines");
        let detail: Value = serde_json::from_str(&rows[1][9]).unwrap();
        assert_eq!(detail["note"], "a, \"b\"");
    }

    #[test]
    fn csv_neutralises_formula_injection() {
        for evil in [
            "=HYPERLINK(\"http://x\")",
            "+1+1",
            "-2+3",
            "@SUM(A1)",
            "\tx",
            "\rx",
        ] {
            let cell = csv_field(evil);
            let rows = parse_csv(&format!("{cell}\r\n"));
            assert_eq!(rows[0][0], format!("'{evil}"), "{evil:?} -> {cell}");
        }
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a=b"), "a=b");
        let text = to_csv(&[record(3, Some("=cmd|' /C calc'!A0"), Some("@evil"))]);
        let rows = parse_csv(&text);
        assert_eq!(rows[1][8], "'=cmd|' /C calc'!A0");
        assert_eq!(rows[1][7], "'@evil");
    }
}
