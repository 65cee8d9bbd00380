//! Calendar truncation: which week, month and quarter an instant belongs to.
//!
//! Polars SQL has no calendar functions we can rely on, so periods are computed here, in UTC, before
//! the queries run. Weeks start on Monday and are labelled by ISO week (`2025-W03`); months `2025-03`;
//! quarters `2025-Q1`. Because every timestamp is UTC, daylight-saving changes cannot move an event
//! into another day or period.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

/// The analysis window `[since, until)` in UTC. It lives here, with the calendar that cuts it into
/// periods, so that the configuration (which sets it) and the calendar depend on nothing but chrono.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

/// A reporting grain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Grain {
    Week,
    Month,
    Quarter,
    /// The whole analysis window as one period.
    Window,
}

impl Grain {
    pub const ALL: [Grain; 4] = [Grain::Window, Grain::Quarter, Grain::Month, Grain::Week];

    pub fn parse(s: &str) -> Option<Grain> {
        match s.to_ascii_lowercase().as_str() {
            "week" | "weekly" => Some(Grain::Week),
            "month" | "monthly" => Some(Grain::Month),
            "quarter" | "quarterly" => Some(Grain::Quarter),
            "window" => Some(Grain::Window),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Grain::Week => "week",
            Grain::Month => "month",
            Grain::Quarter => "quarter",
            Grain::Window => "window",
        }
    }

    /// The first day of the period containing `date`.
    pub fn start_of(self, date: NaiveDate, window: &Window) -> NaiveDate {
        match self {
            Grain::Week => date - Duration::days(date.weekday().num_days_from_monday() as i64),
            Grain::Month => date.with_day(1).expect("day 1 exists"),
            Grain::Quarter => {
                let month = (date.month0() / 3) * 3 + 1;
                NaiveDate::from_ymd_opt(date.year(), month, 1).expect("quarter start exists")
            }
            Grain::Window => window.since.date_naive(),
        }
    }

    /// The first day of the following period.
    pub fn next_start(self, start: NaiveDate, window: &Window) -> NaiveDate {
        match self {
            Grain::Week => start + Duration::days(7),
            Grain::Month => start.checked_add_months(chrono::Months::new(1)).expect("in range"),
            Grain::Quarter => start.checked_add_months(chrono::Months::new(3)).expect("in range"),
            Grain::Window => window.until.date_naive(),
        }
    }

    /// The label of the period starting on `start`.
    pub fn label(self, start: NaiveDate, window: &Window) -> String {
        match self {
            Grain::Week => {
                let iso = start.iso_week();
                format!("{}-W{:02}", iso.year(), iso.week())
            }
            Grain::Month => format!("{}-{:02}", start.year(), start.month()),
            Grain::Quarter => format!("{}-Q{}", start.year(), start.month0() / 3 + 1),
            Grain::Window => window_label(window),
        }
    }
}

/// `2025-01-01..2026-01-01`: the window, half-open. When either end is not at midnight, both are
/// written as RFC 3339 times (`2025-01-01T00:00:00Z..2025-03-31T12:00:00Z`), so the label never
/// claims a day the window does not cover.
pub fn window_label(window: &Window) -> String {
    let at_midnight = |t: DateTime<Utc>| t == midnight(t.date_naive());
    if at_midnight(window.since) && at_midnight(window.until) {
        format!("{}..{}", window.since.date_naive(), window.until.date_naive())
    } else {
        let time = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        format!("{}..{}", time(window.since), time(window.until))
    }
}

/// A duration in hours written in its most readable unit: `45 min`, `3.5 h`, `2.1 d`; `-` for none.
pub fn human_hours(hours: Option<f64>) -> String {
    match hours {
        None => "-".into(),
        Some(h) if h < 1.0 => format!("{:.0} min", h * 60.0),
        Some(h) if h < 48.0 => format!("{h:.1} h"),
        Some(h) => format!("{:.1} d", h / 24.0),
    }
}

/// One period of a grain, clipped to the window.
#[derive(Debug, Clone, PartialEq)]
pub struct Period {
    pub label: String,
    /// First instant inside both the period and the window.
    pub start: DateTime<Utc>,
    /// First instant after both.
    pub end: DateTime<Utc>,
}

impl Period {
    pub fn days(&self) -> f64 {
        (self.end - self.start).num_seconds() as f64 / 86_400.0
    }

    /// Length in calendar months: each calendar month the period overlaps counts by the share of its
    /// own length that lies inside, so January 2025 through December 2025 is 12 months although
    /// 365 days are fewer than twelve 30-day months. Rounded to nine decimals, so that the shares of
    /// one month split across the two ends of a period add up to exactly 1.
    pub fn months(&self) -> f64 {
        let mut months = 0.0;
        let mut month = self.start.date_naive().with_day(1).expect("day 1 exists");
        while midnight(month) < self.end {
            let next = month.checked_add_months(chrono::Months::new(1)).expect("in range");
            let inside = self.end.min(midnight(next)) - self.start.max(midnight(month));
            months += inside.num_seconds() as f64 / (midnight(next) - midnight(month)).num_seconds() as f64;
            month = next;
        }
        (months * 1e9).round() / 1e9
    }
}

fn midnight(date: NaiveDate) -> DateTime<Utc> {
    date.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc()
}

/// Every period of `grain` that overlaps the window, in order, clipped to it.
pub fn periods(grain: Grain, window: &Window) -> Vec<Period> {
    // The window is one period whatever times its ends fall on: stepping through it day by day
    // would cut a second period, with the same label, off an `until` that is not at midnight.
    if grain == Grain::Window {
        return vec![Period { label: window_label(window), start: window.since, end: window.until }];
    }
    let mut out = Vec::new();
    let mut start = grain.start_of(window.since.date_naive(), window);
    while midnight(start) < window.until {
        let next = grain.next_start(start, window).max(start + Duration::days(1));
        out.push(Period {
            label: grain.label(start, window),
            start: midnight(start).max(window.since),
            end: midnight(next).min(window.until),
        });
        start = next;
    }
    out
}

/// Whole weeks (Monday to Monday) lying entirely inside the window: the sample for median weekly
/// deployment days. A partial first or last week would understate how often a team deploys.
pub fn whole_weeks(window: &Window) -> Vec<NaiveDate> {
    let since = window.since.date_naive();
    let mut monday = Grain::Week.start_of(since, window);
    if midnight(monday) < window.since {
        monday += Duration::days(7);
    }
    let mut out = Vec::new();
    while midnight(monday + Duration::days(7)) <= window.until {
        out.push(monday);
        monday += Duration::days(7);
    }
    out
}

/// The label of the period of `grain` that contains `t`, or `None` when `t` is outside the window.
pub fn label_of(grain: Grain, t: DateTime<Utc>, window: &Window) -> Option<String> {
    if t < window.since || t >= window.until {
        return None;
    }
    let date = t.date_naive();
    Some(grain.label(grain.start_of(date, window), window))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(a: &str, b: &str) -> Window {
        let d = |s: &str| midnight(NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap());
        Window { since: d(a), until: d(b) }
    }

    #[test]
    fn quarters_are_clipped_to_the_window() {
        let w = window("2025-02-15", "2025-07-01");
        let q = periods(Grain::Quarter, &w);
        let labels: Vec<_> = q.iter().map(|p| p.label.as_str()).collect();
        assert_eq!(labels, ["2025-Q1", "2025-Q2"]);
        assert_eq!(q[0].days(), 45.0); // 14 days of February from the 15th, 31 of March
        assert_eq!(q[1].days(), 91.0);
    }

    #[test]
    fn iso_weeks_cross_the_year() {
        let w = window("2024-12-30", "2025-01-13");
        let labels: Vec<_> = periods(Grain::Week, &w).into_iter().map(|p| p.label).collect();
        assert_eq!(labels, ["2025-W01", "2025-W02"]);
        assert_eq!(whole_weeks(&w).len(), 2);
    }

    #[test]
    fn partial_weeks_are_not_whole_weeks() {
        // Wednesday to Wednesday, three weeks apart: only the two Mondays inside make whole weeks.
        let w = window("2025-01-01", "2025-01-22");
        assert_eq!(whole_weeks(&w).len(), 2);
    }

    #[test]
    fn the_window_is_one_period_even_when_it_ends_at_noon() {
        let mut w = window("2025-01-01", "2025-03-31");
        w.until += Duration::hours(12);
        let p = periods(Grain::Window, &w);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].label, "2025-01-01T00:00:00Z..2025-03-31T12:00:00Z");
        assert_eq!(p[0].days(), 89.5);
        assert_eq!(periods(Grain::Window, &window("2025-01-01", "2025-04-01"))[0].label, "2025-01-01..2025-04-01");
        // Other grains keep their own labels; the last quarter is clipped at noon.
        assert_eq!(periods(Grain::Quarter, &w).len(), 1);
    }

    #[test]
    fn months_are_calendar_months() {
        let months = |a, b| periods(Grain::Window, &window(a, b))[0].months();
        assert_eq!(months("2025-01-01", "2026-01-01"), 12.0);
        assert_eq!(months("2025-07-01", "2025-10-01"), 3.0); // 92 days
        assert_eq!(months("2025-02-01", "2025-02-15"), 0.5); // 14 of February's 28 days
        assert_eq!(months("2025-01-10", "2026-01-10"), 12.0); // 22/31 + 11 + 9/31
    }

    #[test]
    fn events_outside_the_window_have_no_period() {
        let w = window("2025-01-01", "2025-04-01");
        assert_eq!(label_of(Grain::Month, w.until, &w), None);
        assert_eq!(label_of(Grain::Month, w.since, &w).as_deref(), Some("2025-01"));
    }
}
