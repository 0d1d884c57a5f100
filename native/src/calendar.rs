//! Business-hours calendars: SLA clocks that count only business time. The native twin of
//! `processor/domain/business_hours.py` (the reference, which also validates calendars
//! when a policy is set: this side reads calendars already accepted there).
//!
//! Local opening hours become absolute times with the time zone's rules of that very day,
//! as Python's `datetime.combine(day, time, zone)` does (fold 0: an ambiguous local time
//! is its first occurrence, a local time in a gap takes the offset before the gap).

use std::collections::HashSet;

use chrono::{
    Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone,
};
use chrono_tz::Tz;

/// A target longer than this in business time is a configuration error, not a deadline.
const MAX_DAYS: usize = 3 * 366;
const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Opening hours in a time zone, per weekday (Monday first), and holidays.
#[derive(Clone, Debug)]
pub struct Calendar {
    zone: Tz,
    hours: [Vec<(NaiveTime, NaiveTime)>; 7],
    holidays: HashSet<NaiveDate>,
}

fn parse_time(text: &str) -> Result<NaiveTime, String> {
    let text = text.trim();
    NaiveTime::parse_from_str(text, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(text, "%H:%M:%S"))
        .map_err(|_| format!("opening hours {text:?} must look like 09:00-18:00"))
}

fn parse_span(span: &str) -> Result<(NaiveTime, NaiveTime), String> {
    let mut parts = span.split('-');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(opens), Some(closes), None) => Ok((parse_time(opens)?, parse_time(closes)?)),
        _ => Err(format!("opening hours {span:?} must look like 09:00-18:00")),
    }
}

impl Calendar {
    /// A calendar of `BusinessCalendar`'s stored form: a zone, spans per weekday name,
    /// holiday dates (ISO).
    pub fn new(
        timezone: &str,
        hours: &[(String, Vec<String>)],
        holidays: &[String],
    ) -> Result<Calendar, String> {
        let zone: Tz = timezone
            .parse()
            .map_err(|_| format!("unknown time zone {timezone:?}"))?;
        let mut by_day: [Vec<(NaiveTime, NaiveTime)>; 7] = Default::default();
        for (day, spans) in hours {
            let index = WEEKDAYS
                .iter()
                .position(|name| name == day)
                .ok_or_else(|| format!("unknown weekday {day:?}"))?;
            for span in spans {
                by_day[index].push(parse_span(span)?);
            }
        }
        let holidays = holidays
            .iter()
            .map(|day| {
                NaiveDate::parse_from_str(day, "%Y-%m-%d")
                    .map_err(|_| format!("not a date: {day:?}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Calendar {
            zone,
            hours: by_day,
            holidays,
        })
    }

    /// The POSIX time of a local date and time, as Python's zoneinfo reads it (fold 0).
    fn timestamp(&self, local: NaiveDateTime) -> f64 {
        let instant = match self.zone.from_local_datetime(&local) {
            LocalResult::Single(at) => at.timestamp(),
            LocalResult::Ambiguous(first, _) => first.timestamp(),
            LocalResult::None => {
                // In a gap: the offset in force before it (a day earlier, well before).
                let before = self
                    .zone
                    .offset_from_utc_datetime(&(local - Duration::days(1)));
                let offset = i64::from(before.fix().local_minus_utc());
                local.and_utc().timestamp() - offset
            }
        };
        instant as f64
    }

    /// The day's open spans as absolute times, in order.
    fn open_spans(&self, day: NaiveDate) -> Vec<(f64, f64)> {
        if self.holidays.contains(&day) {
            return Vec::new();
        }
        let midnight = NaiveTime::from_hms_opt(0, 0, 0).expect("midnight");
        let mut spans: Vec<(f64, f64)> = self.hours[day.weekday().num_days_from_monday() as usize]
            .iter()
            .map(|(opens, closes)| {
                let start = self.timestamp(day.and_time(*opens));
                let end_day = if *closes == midnight {
                    day.succ_opt().expect("a next day")
                } else {
                    day
                };
                (start, self.timestamp(end_day.and_time(*closes)))
            })
            .collect();
        spans.sort_by(|a, b| a.partial_cmp(b).expect("finite times"));
        spans
    }

    /// The local date of a POSIX time.
    fn local_date(&self, at: f64) -> NaiveDate {
        let seconds = at.floor();
        let nanos = ((at - seconds) * 1e9) as u32;
        self.zone
            .timestamp_opt(seconds as i64, nanos.min(999_999_999))
            .unwrap()
            .date_naive()
    }

    /// The time at which `seconds` of business time have passed since `start`.
    pub fn deadline(&self, start: f64, seconds: f64) -> Result<f64, String> {
        let mut remaining = seconds;
        let mut day = self.local_date(start);
        for _ in 0..MAX_DAYS {
            for (opens, closes) in self.open_spans(day) {
                let begin = if start > opens { start } else { opens };
                if begin >= closes {
                    continue;
                }
                if remaining <= closes - begin {
                    return Ok(begin + remaining);
                }
                remaining -= closes - begin;
            }
            day = day.succ_opt().ok_or("past the last date")?;
        }
        Err(format!(
            "{seconds}s of business time do not fit in {MAX_DAYS} days"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn office() -> Calendar {
        let weekdays: Vec<(String, Vec<String>)> = ["mon", "tue", "wed", "thu", "fri"]
            .iter()
            .map(|day| (day.to_string(), vec!["09:00-17:00".to_string()]))
            .collect();
        Calendar::new("Europe/Paris", &weekdays, &["2024-12-25".to_string()]).unwrap()
    }

    #[test]
    fn an_hour_asked_at_closing_time_is_the_next_morning_s_first_hour() {
        // Friday 2024-03-08 17:00 in Paris (UTC+1) is 16:00 UTC: 1709913600.
        let deadline = office().deadline(1709913600.0, 3600.0).unwrap();
        // Monday 2024-03-11 10:00 Paris = 09:00 UTC.
        assert_eq!(deadline, 1710147600.0);
    }

    #[test]
    fn a_holiday_is_skipped() {
        // Tuesday 2024-12-24 16:30 Paris (15:30 UTC); half an hour left that day, the rest
        // on Thursday the 26th from 09:00 (08:00 UTC).
        let deadline = office().deadline(1735054200.0, 3600.0).unwrap();
        assert_eq!(deadline, 1735201800.0);
    }
}
