//! Structured fuzzing of the WebDAV side of CalDAV answers: `207 Multi-Status` bodies
//! (`multistatus`: responses, hrefs, properties by propstat status), status lines, percent-decoded
//! hrefs and URL paths, and the scheduling outbox's `schedule-response` with its iCalendar
//! `calendar-data` (read as `outbox` reads it after the POST).
//!
//! Arbitrary bytes never panic. Radicale's captured PROPFIND answer and an RFC 6638 appendix B
//! schedule-response, edited anywhere, never panic; generated multistatus bodies read back with
//! one resource per response and only the properties of `200` propstats, whatever else the
//! statuses say; hrefs percent-decode back to what was encoded. A document cut anywhere is an
//! error.
//!
//! proptest rather than cargo-fuzz (which needs nightly sanitizers; this toolchain is stable):
//! see `core/src/fuzz_support.rs`. `scripts/fuzz` runs these with many more cases.

use freebusy_provider_sdk::http::Response;
use freebusy_provider_sdk::xml::parse;
use proptest::prelude::*;

use super::{decoded, multistatus, path_of, status_code};
use crate::fuzz_support::{apply, cuts, edits};
use crate::ical::busy_periods;

const PROPFIND: &str = r#"<?xml version='1.0' encoding='utf-8'?>
<multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><response><href>/alice%40contoso.com/</href><propstat><prop><C:calendar-home-set><href>/alice%40contoso.com/</href></C:calendar-home-set></prop><status>HTTP/1.1 200 OK</status></propstat><propstat><prop><C:schedule-outbox-URL /></prop><status>HTTP/1.1 404 Not Found</status></propstat></response></multistatus>"#;

const SCHEDULE_RESPONSE: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<C:schedule-response xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">\
<C:response><C:recipient><D:href>mailto:wilfredo@example.com</D:href></C:recipient><C:request-status>2.0;Success</C:request-status>\
<C:calendar-data>BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REPLY\r\nBEGIN:VFREEBUSY\r\nDTSTART:20260323T000000Z\r\nDTEND:20260324T000000Z\r\n\
FREEBUSY;FBTYPE=BUSY-UNAVAILABLE:20260323T060000Z/20260323T080000Z\r\nFREEBUSY:20260323T090000Z/PT1H\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n</C:calendar-data></C:response>\
<C:response><C:recipient><D:href>mailto:bernard@example.net</D:href></C:recipient><C:request-status>3.7;Invalid calendar user</C:request-status></C:response>\
<C:response><C:recipient><D:href>mailto:mike@example.org</D:href></C:recipient><C:request-status>3.8;No authority</C:request-status></C:response>\
</C:schedule-response>";

fn response(body: &[u8]) -> Response {
    Response { status: 207, headers: Vec::new(), body: body.to_vec() }
}

/// A recipient and what the outbox said of it: its busy periods' count or why not, `None` when
/// it is left to the REPORT.
type Answer = (String, Option<Result<usize, String>>);

/// What `outbox` makes of a schedule-response.
fn outbox_answers(body: &[u8]) -> Result<Vec<Answer>, String> {
    let root = parse(body)?;
    if root.name != "schedule-response" {
        return Err(format!("got <{}>", root.name));
    }
    Ok(root
        .all("response")
        .map(|r| {
            let recipient = r.text_at(&["recipient", "href"]).unwrap_or_default();
            let recipient = recipient
                .get(7..)
                .filter(|_| recipient.to_ascii_lowercase().starts_with("mailto:"))
                .unwrap_or(recipient)
                .to_string();
            let status = r.text_at(&["request-status"]).unwrap_or_default();
            let outcome = match status.split(';').next().unwrap_or_default().trim() {
                s if s.starts_with("2.") => {
                    Some(busy_periods(r.text_at(&["calendar-data"]).unwrap_or_default()).map(|p| p.len()))
                }
                "3.8" => None,
                _ => Some(Err(status.to_string())),
            };
            (recipient, outcome)
        })
        .collect())
}

/// A generated `D:response`: href, and propstats of (status code, property names).
type GenResponse = (String, Vec<(u16, Vec<String>)>);

fn gen_response() -> impl Strategy<Value = GenResponse> {
    let status = prop_oneof![Just(200u16), Just(404), Just(403), Just(500), any::<u16>()];
    let names = proptest::collection::vec("[a-z][a-z-]{0,12}", 0..4);
    ("/[a-z0-9%@._~-]{0,20}/?", proptest::collection::vec((status, names), 0..4))
}

fn write_multistatus(responses: &[GenResponse]) -> String {
    let mut out = String::from(
        r#"<?xml version="1.0" encoding="utf-8"?><D:multistatus xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">"#,
    );
    for (href, propstats) in responses {
        out.push_str(&format!("<D:response><D:href>{href}</D:href>"));
        for (status, names) in propstats {
            let props: String = names.iter().map(|n| format!("<C:{n}><D:href>/x/</D:href></C:{n}>")).collect();
            out.push_str(&format!(
                "<D:propstat><D:prop>{props}</D:prop><D:status>HTTP/1.1 {status} Whatever</D:status></D:propstat>"
            ));
        }
        out.push_str("</D:response>");
    }
    out.push_str("</D:multistatus>");
    out
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = multistatus(&response(&body));
        let _ = outbox_answers(&body);
    }

    #[test]
    fn edited_answers_never_panic(edits in edits(), outbox in any::<bool>()) {
        if outbox {
            let _ = outbox_answers(&apply(SCHEDULE_RESPONSE.as_bytes(), &edits));
        } else if let Ok(resources) = multistatus(&response(&apply(PROPFIND.as_bytes(), &edits))) {
            for r in resources {
                let _ = r.hrefs("calendar-home-set");
            }
        }
    }

    #[test]
    fn multistatus_keeps_exactly_the_found_properties(responses in proptest::collection::vec(gen_response(), 0..6)) {
        let got = multistatus(&response(write_multistatus(&responses).as_bytes())).unwrap();
        prop_assert_eq!(got.len(), responses.len());
        for (r, (href, propstats)) in got.iter().zip(&responses) {
            prop_assert_eq!(&r.href, href.trim());
            let found: Vec<&String> = propstats.iter().filter(|(s, _)| *s == 200).flat_map(|(_, n)| n).collect();
            let names: Vec<&String> = r.props.iter().map(|p| &p.name).collect();
            prop_assert_eq!(names, found);
        }
    }

    #[test]
    fn status_lines_and_paths_never_panic(text in any::<String>()) {
        let _ = status_code(&text);
        let _ = path_of(&text);
        let _ = decoded(&text);
    }

    #[test]
    fn hrefs_decode_back_to_what_was_encoded(path in "(/[^/%]{0,10}){0,4}", trailing in any::<bool>()) {
        let encoded = freebusy_provider_sdk::http::encode_component(&path).replace("%2F", "/");
        let href = if trailing { format!("{encoded}/") } else { encoded };
        prop_assert_eq!(decoded(&href), path.trim_end_matches('/'));
    }
}

#[test]
fn the_outbox_answer_reads_per_recipient() {
    let got = outbox_answers(SCHEDULE_RESPONSE.as_bytes()).unwrap();
    assert_eq!(got[0], ("wilfredo@example.com".to_string(), Some(Ok(2))));
    assert!(matches!(&got[1].1, Some(Err(s)) if s.starts_with("3.7")));
    assert_eq!(got[2].1, None);
}

#[test]
fn every_cut_of_an_answer_is_an_error() {
    for cut in cuts(PROPFIND) {
        assert!(multistatus(&response(cut.as_bytes())).is_err(), "a multistatus cut after {} bytes read", cut.len());
    }
    for cut in cuts(SCHEDULE_RESPONSE) {
        assert!(outbox_answers(cut.as_bytes()).is_err(), "a schedule-response cut after {} bytes read", cut.len());
    }
}
