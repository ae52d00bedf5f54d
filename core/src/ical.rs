//! iCalendar `VFREEBUSY` (RFC 5545 §3.6.4) for clients that ask with `Accept: text/calendar`.

use chrono::{DateTime, Utc};

use crate::api::{FreeBusyResponse, MailboxResult};
use crate::model::Availability;

fn ical_time(rfc3339: &str) -> String {
    DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.with_timezone(&Utc).format("%Y%m%dT%H%M%SZ").to_string())
        .unwrap_or_default()
}

fn fbtype(status: Availability) -> &'static str {
    match status {
        Availability::Tentative => "BUSY-TENTATIVE",
        Availability::OutOfOffice => "BUSY-UNAVAILABLE",
        // RFC 5545 has no "unknown"; an unread stretch must not read as free, so it is busy.
        Availability::Busy | Availability::Unknown => "BUSY",
        Availability::Free | Availability::WorkingElsewhere => "FREE",
    }
}

/// Render a response as a `VCALENDAR` with one `VFREEBUSY` per mailbox. A mailbox that could not
/// be read is one `BUSY` period over the whole window with a `COMMENT` saying why, so that a
/// calendar client never shows it as free.
pub fn render(resp: &FreeBusyResponse, now: &str) -> String {
    let mut out =
        String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//freebusy//freebusy//EN\r\nMETHOD:PUBLISH\r\n");
    for mailbox in &resp.mailboxes {
        render_one(&mut out, resp, mailbox, now);
    }
    out.push_str("END:VCALENDAR\r\n");
    out
}

fn render_one(out: &mut String, resp: &FreeBusyResponse, m: &MailboxResult, now: &str) {
    out.push_str("BEGIN:VFREEBUSY\r\n");
    out.push_str(&format!("UID:{}-{}\r\n", m.mailbox, ical_time(&resp.start)));
    out.push_str(&format!("DTSTAMP:{}\r\n", ical_time(now)));
    out.push_str(&format!("DTSTART:{}\r\nDTEND:{}\r\n", ical_time(&resp.start), ical_time(&resp.end)));
    out.push_str(&format!("ATTENDEE:mailto:{}\r\n", m.mailbox));
    match (&m.busy, &m.error) {
        (Some(busy), _) => {
            for b in busy.iter().filter(|b| fbtype(b.status) != "FREE") {
                out.push_str(&format!(
                    "FREEBUSY;FBTYPE={}:{}/{}\r\n",
                    fbtype(b.status),
                    ical_time(&b.start),
                    ical_time(&b.end)
                ));
            }
        }
        (None, Some(err)) => {
            out.push_str(&format!("COMMENT:{}: {}\r\n", err.code, escape(&err.message)));
            out.push_str(&format!("FREEBUSY;FBTYPE=BUSY:{}/{}\r\n", ical_time(&resp.start), ical_time(&resp.end)));
        }
        (None, None) => {}
    }
    out.push_str("END:VFREEBUSY\r\n");
}

fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace(';', "\\;").replace(',', "\\,").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::BusyInterval;
    use crate::model::MailboxError;

    #[test]
    fn renders_busy_periods_and_unreadable_mailboxes_as_busy() {
        let resp = FreeBusyResponse {
            start: "2026-03-23T00:00:00Z".into(),
            end: "2026-03-24T00:00:00Z".into(),
            interval: None,
            mailboxes: vec![
                MailboxResult {
                    busy: Some(vec![BusyInterval {
                        start: "2026-03-23T08:00:00Z".into(),
                        end: "2026-03-23T08:15:00Z".into(),
                        status: Availability::Tentative,
                    }]),
                    ..MailboxResult::from_error("a@x.com", MailboxError::new(crate::model::ErrorCode::Other, "y"))
                }
                .with_no_error(),
                MailboxResult::from_error(
                    "b@x.com",
                    MailboxError::new(crate::model::ErrorCode::NotFound, "no such mailbox"),
                ),
            ],
        };
        let text = render(&resp, "2026-03-22T00:00:00Z");
        assert!(text.contains("FREEBUSY;FBTYPE=BUSY-TENTATIVE:20260323T080000Z/20260323T081500Z\r\n"), "{text}");
        assert!(text.contains("FREEBUSY;FBTYPE=BUSY:20260323T000000Z/20260324T000000Z\r\n"), "{text}");
        assert_eq!(text.matches("BEGIN:VFREEBUSY").count(), 2);
    }

    impl MailboxResult {
        fn with_no_error(mut self) -> Self {
            self.error = None;
            self
        }
    }
}
