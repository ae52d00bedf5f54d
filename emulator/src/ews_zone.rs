//! EWS time zones (https://learn.microsoft.com/exchange/client-developer/web-service-reference/timezone-availability;
//! response times as in Learn "Get free/busy information by using EWS in Exchange"): a request's
//! `SerializableTimeZone` (bias plus standard/daylight transition rules) or a named zone from the
//! `TimeZoneContext` header, and the rules of a mailbox's IANA zone for `WorkingHours`.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

/// One transition rule: "the `order`th `weekday` of `month` at `time`" (order 5 = last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub bias: i32,
    pub time: NaiveTime,
    pub order: u32,
    pub month: u32,
    pub weekday: Weekday,
}

impl Transition {
    /// The wall-clock moment of this transition in `year`.
    fn at(&self, year: i32) -> Option<NaiveDateTime> {
        let first = NaiveDate::from_ymd_opt(year, self.month, 1)?;
        let offset =
            (7 + self.weekday.num_days_from_monday() as i64 - first.weekday().num_days_from_monday() as i64) % 7;
        let mut day = first + Duration::days(offset + 7 * (i64::from(self.order.clamp(1, 5)) - 1));
        while day.month() != self.month {
            day -= Duration::days(7); // order 5 = the last one in the month
        }
        Some(day.and_time(self.time))
    }
}

/// UTC = local + bias (+ the active period's bias).
#[derive(Debug, Clone)]
pub enum RequestZone {
    /// A `t:TimeZone` element.
    Rules { bias: i32, standard: Transition, daylight: Transition },
    /// A zone named by `TimeZoneContext`.
    Named(Tz),
}

impl RequestZone {
    pub fn utc() -> Self {
        RequestZone::Named(chrono_tz::UTC)
    }

    fn has_dst(bias_std: &Transition, bias_dst: &Transition) -> bool {
        bias_std.month != 0 && bias_dst.month != 0 && bias_std.bias != bias_dst.bias
    }

    /// Minutes to add to local time to get UTC, for a local standard-time moment.
    fn total_bias(&self, local_standard: NaiveDateTime) -> i32 {
        let RequestZone::Rules { bias, standard, daylight } = self else { return 0 };
        if !Self::has_dst(standard, daylight) {
            return bias + standard.bias;
        }
        let year = local_standard.year();
        let (Some(dst_start), Some(std_start_wall)) = (daylight.at(year), standard.at(year)) else {
            return bias + standard.bias;
        };
        // The standard transition is given in daylight wall time; move it to standard time.
        let std_start = std_start_wall + Duration::minutes(i64::from(daylight.bias - standard.bias));
        let in_dst = if dst_start < std_start {
            dst_start <= local_standard && local_standard < std_start
        } else {
            !(std_start <= local_standard && local_standard < dst_start)
        };
        bias + if in_dst { daylight.bias } else { standard.bias }
    }

    /// A UTC instant as wall-clock time in this zone.
    pub fn to_local(&self, t: DateTime<Utc>) -> NaiveDateTime {
        match self {
            RequestZone::Named(tz) => t.with_timezone(tz).naive_local(),
            RequestZone::Rules { bias, standard, .. } => {
                let local_standard = t.naive_utc() - Duration::minutes(i64::from(bias + standard.bias));
                t.naive_utc() - Duration::minutes(i64::from(self.total_bias(local_standard)))
            }
        }
    }

    /// Wall-clock time in this zone as UTC.
    pub fn to_utc(&self, local: NaiveDateTime) -> DateTime<Utc> {
        match self {
            RequestZone::Named(tz) => {
                tz.from_local_datetime(&local).earliest().map_or_else(|| local.and_utc(), |t| t.with_timezone(&Utc))
            }
            RequestZone::Rules { .. } => (local + Duration::minutes(i64::from(self.total_bias(local)))).and_utc(),
        }
    }
}

/// The rules of an IANA zone in `year`, as EWS writes them: (bias, standard, daylight), with
/// `month` 0 when the zone has no daylight saving time.
pub fn rules_of(tz: Tz, year: i32) -> (i32, Transition, Transition) {
    let offset_at = |t: DateTime<Utc>| t.with_timezone(&tz).offset().fix().local_minus_utc() / 60;
    let start = Utc.with_ymd_and_hms(year, 1, 1, 0, 0, 0).single().expect("valid year");
    let mut changes: Vec<(DateTime<Utc>, i32, i32)> = Vec::new();
    let mut prev = offset_at(start);
    let mut day = start;
    while day.year() == year {
        let next = day + Duration::days(1);
        let off = offset_at(next);
        if off != prev {
            // Narrow down to the minute (transitions fall on whole minutes).
            let (mut lo, mut hi) = (0i64, 24 * 60);
            while hi - lo > 1 {
                let mid = (lo + hi) / 2;
                if offset_at(day + Duration::minutes(mid)) == prev {
                    lo = mid
                } else {
                    hi = mid
                }
            }
            changes.push((day + Duration::minutes(hi), prev, off));
            prev = off;
        }
        day = next;
    }
    let none = |bias| Transition { bias, time: NaiveTime::MIN, order: 0, month: 0, weekday: Weekday::Sun };
    let (Some(forward), Some(back)) = (changes.iter().find(|c| c.2 > c.1), changes.iter().find(|c| c.2 < c.1)) else {
        return (-prev, none(0), none(0));
    };
    let standard_offset = forward.1;
    let rule = |(at, before, _): &(DateTime<Utc>, i32, i32), bias: i32| {
        let wall = at.naive_utc() + Duration::minutes(i64::from(*before));
        let day = wall.date();
        let order = if (day + Duration::days(7)).month() != day.month() { 5 } else { (day.day() - 1) / 7 + 1 };
        Transition { bias, time: wall.time(), order, month: day.month(), weekday: day.weekday() }
    };
    (-standard_offset, rule(back, 0), rule(forward, -(forward.2 - forward.1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn berlin_rules_are_last_sundays_of_march_and_october() {
        let (bias, std, dst) = rules_of(chrono_tz::Europe::Berlin, 2026);
        assert_eq!(bias, -60);
        assert_eq!(
            (std.month, std.order, std.weekday, std.time.to_string().as_str(), std.bias),
            (10, 5, Weekday::Sun, "03:00:00", 0)
        );
        assert_eq!(
            (dst.month, dst.order, dst.weekday, dst.time.to_string().as_str(), dst.bias),
            (3, 5, Weekday::Sun, "02:00:00", -60)
        );
    }

    #[test]
    fn pacific_rules_from_the_reference_example_convert_both_ways() {
        // Microsoft's Pacific example (Learn "Get free/busy information by using EWS in Exchange"): Bias 480,
        // StandardTime {Month 11, DayOrder 1}, DaylightTime {Month 3, DayOrder 2, Bias -60}.
        let t = |h| NaiveTime::from_hms_opt(h, 0, 0).unwrap();
        let zone = RequestZone::Rules {
            bias: 480,
            standard: Transition { bias: 0, time: t(2), order: 1, month: 11, weekday: Weekday::Sun },
            daylight: Transition { bias: -60, time: t(2), order: 2, month: 3, weekday: Weekday::Sun },
        };
        let summer = Utc.with_ymd_and_hms(2026, 7, 1, 19, 0, 0).unwrap();
        assert_eq!(zone.to_local(summer).to_string(), "2026-07-01 12:00:00");
        let winter = Utc.with_ymd_and_hms(2026, 1, 15, 20, 0, 0).unwrap();
        assert_eq!(zone.to_local(winter).to_string(), "2026-01-15 12:00:00");
        assert_eq!(zone.to_utc(zone.to_local(summer)), summer);
        // Rules match chrono-tz's America/Los_Angeles all year.
        let la = RequestZone::Named(chrono_tz::America::Los_Angeles);
        for day in 0..365 {
            let at = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap() + Duration::days(day);
            assert_eq!(zone.to_local(at), la.to_local(at), "{at}");
        }
    }

    #[test]
    fn zones_without_dst_have_no_transitions() {
        let (bias, std, dst) = rules_of(chrono_tz::Asia::Kolkata, 2026);
        assert_eq!((bias, std.month, dst.month), (-330, 0, 0));
    }
}
