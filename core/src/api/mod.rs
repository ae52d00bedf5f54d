//! The HTTP API contract shared by the host and the edge, one module per part:
//!
//! - [`request`]: the `/v1/freebusy` question, parsed and validated.
//! - [`response`]: its answer, and rendering as JSON or iCalendar.
//! - [`availability`]: `/v1/availability`, free slots common to people and rooms.
//! - [`directory`]: the `/v1/directory` request and answer.
//! - [`problem`]: the problem details every front end answers with.

pub mod availability;
pub mod directory;
pub mod problem;
pub mod request;
pub mod response;

pub use availability::*;
pub use directory::*;
pub use problem::*;
pub use request::*;
pub use response::*;

#[cfg(test)]
mod fuzz_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Availability, Block};

    fn raw(q: &[(&str, &str)]) -> Result<FreeBusyRequest, Problem> {
        RawFreeBusyRequest::from_pairs(q.iter().copied())?.validate()
    }

    #[test]
    fn accepts_a_well_formed_query_and_dedupes_mailboxes() {
        let req = raw(&[
            ("mailboxes", "a@x.com, B@x.com"),
            ("mailboxes", "b@x.com"),
            ("start", "2026-03-23T00:00:00Z"),
            ("end", "2026-03-24T00:00:00+01:00"),
            ("interval", "30"),
            ("details", "true"),
        ])
        .unwrap();
        assert_eq!(req.mailboxes, vec!["a@x.com", "B@x.com"]);
        assert_eq!(req.window.len_ms(), 23 * 3_600_000);
        assert_eq!(req.interval_minutes, Some(30));
        assert!(req.details);
    }

    #[test]
    fn lists_every_problem_at_once() {
        let p = raw(&[("mailboxes", "not-an-address"), ("start", "yesterday"), ("interval", "3")]).unwrap_err();
        assert_eq!(p.status, 400);
        let names: Vec<&str> = p.invalid_params.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, vec!["mailboxes", "start", "end", "interval"]);
        assert!(p.detail.contains("not-an-address"), "{}", p.detail);
    }

    #[test]
    fn end_before_start_and_empty_mailboxes_are_rejected() {
        let p = raw(&[("start", "2026-03-23T10:00:00Z"), ("end", "2026-03-23T09:00:00Z")]).unwrap_err();
        assert!(p.invalid_params.iter().any(|i| i.name == "end" && i.reason.contains("after start")));
        assert!(p.invalid_params.iter().any(|i| i.name == "mailboxes" && i.reason.contains("required")));
    }

    #[test]
    fn unknown_parameters_are_named() {
        let p = raw(&[("mailboxs", "a@x.com")]).unwrap_err();
        assert_eq!(p.invalid_params, vec![InvalidParam::new("mailboxs", "unknown parameter")]);
    }

    #[test]
    fn json_body_accepts_numbers_and_booleans() {
        let body = r#"{"mailboxes":["a@x.com"],"start":"2026-03-23T00:00:00Z","end":"2026-03-23T12:00:00Z","interval":60,"details":true}"#;
        let raw: RawFreeBusyRequest = serde_json::from_str(body).unwrap();
        let req = raw.validate().unwrap();
        assert_eq!(req.interval_minutes, Some(60));
        assert!(req.details);
    }

    #[test]
    fn private_items_never_show_subjects() {
        let req = raw(&[
            ("mailboxes", "a@x.com"),
            ("start", "1970-01-01T00:00:00Z"),
            ("end", "1970-01-01T01:00:00Z"),
            ("details", "true"),
        ])
        .unwrap();
        let mut b = Block::new(0, 60_000, Availability::Busy);
        b.subject = Some("Salary talk".into());
        b.is_private = true;
        let r = MailboxResult::from_blocks("a@x.com", &[b], None, &req);
        let events = r.events.unwrap();
        assert_eq!(events[0].subject, None);
        assert!(events[0].private);
    }
}
