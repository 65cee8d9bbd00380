//! CSV that is safe to open in a spreadsheet: the one place every CSV flowgauge writes goes through.
//!
//! Cells hold untrusted text (pull-request titles, branch names, service names from imports). A
//! spreadsheet program runs a cell that starts with `=`, `+`, `-` or `@` (and, in some, a tab or a
//! carriage return) as a formula, so `=HYPERLINK(…)` in a title could leak data or run a command
//! when a client opens the export. Such cells are written with a leading `'`, which spreadsheets
//! show as text; numbers (`-3.5`) stay numbers.

/// Characters that make a spreadsheet read a cell as a formula.
const FORMULA_LEADS: &[char] = &['=', '+', '-', '@', '\t', '\r'];

/// The cell as text a spreadsheet will not run: a formula-leading cell gets a `'` in front, unless
/// it is a plain number.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    let formula_like = cell.starts_with(FORMULA_LEADS);
    if formula_like && !is_plain_number(cell) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// `-3.5`, `+2`, `-1e3`: digits with an optional sign, point and exponent (not `inf` or `NaN`).
fn is_plain_number(cell: &str) -> bool {
    cell.parse::<f64>().is_ok() && cell.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c))
}

/// A CSV document written row by row, every cell neutralised.
pub struct CsvOut {
    writer: csv::Writer<Vec<u8>>,
}

impl Default for CsvOut {
    fn default() -> Self {
        CsvOut::new()
    }
}

impl CsvOut {
    pub fn new() -> CsvOut {
        CsvOut { writer: csv::Writer::from_writer(Vec::new()) }
    }

    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let safe: Vec<String> = cells.into_iter().map(|c| neutralise(c.as_ref()).into_owned()).collect();
        self.writer.write_record(&safe).expect("in-memory write");
    }

    pub fn finish(self) -> String {
        String::from_utf8(self.writer.into_inner().expect("in-memory flush")).expect("csv is utf-8")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_become_text_and_numbers_stay_numbers() {
        for formula in ["=HYPERLINK(\"http://x\")", "@SUM(A1)", "+cmd", "-x", "\tx", "\r=1", "-", "-inf"] {
            assert!(neutralise(formula).starts_with('\''), "{formula:?}");
        }
        for kept in ["-3.5", "+2", "-1e3", "3.5", "checkout", "", "a=b", "2025-01-06T10:00:00+00:00"] {
            assert_eq!(neutralise(kept), kept);
        }
    }
}
