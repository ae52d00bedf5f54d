//! `get-schedules`: free/busy for a batch of mailboxes, by the scheduling outbox where the server
//! takes free/busy requests (RFC 6638 §6.1.4: one POST for every mailbox) and by the
//! `free-busy-query` REPORT on each mailbox's calendars otherwise (RFC 4791 §7.10). A mailbox the
//! outbox has no authority for (request status 3.8, RFC 6638 §7.3.1, as Xandikos answers for
//! anyone but the account itself) is read by REPORT instead; every mailbox that cannot be read
//! becomes a per-mailbox error, never an empty schedule.

use freebusy_provider_sdk::types::*;
use freebusy_provider_sdk::xml::parse;

use crate::discovery::{self, Account};
use crate::ical::{self, Period};
use crate::webdav::{self, path_of, NAMESPACES};
use crate::{Connection, Method};

/// Free/busy for every mailbox of the query, in query order.
pub(crate) fn get_schedules(conn: &Connection, q: &Query) -> Result<Vec<Schedule>, ProviderError> {
    let account = discovery::account(conn)?;
    let use_outbox = match conn.method {
        Method::Outbox if !account.schedules() => {
            return Err(ProviderError::Unsupported(
                "free_busy = \"outbox\" but the server offers no scheduling outbox (no calendar-auto-schedule in its DAV header or no schedule-outbox-URL): use \"report\"".into(),
            ))
        }
        Method::Outbox => true,
        Method::Report => false,
        Method::Auto => account.schedules() && account.organizer().is_some(),
    };
    let mut outcomes: Vec<Option<Result<MailboxSchedule, MailboxError>>> = vec![None; q.mailboxes.len()];
    if use_outbox {
        let answers = outbox(conn, &account, q)?;
        for (slot, answer) in outcomes.iter_mut().zip(answers) {
            *slot = answer;
        }
    }
    for (i, mailbox) in q.mailboxes.iter().enumerate() {
        if outcomes[i].is_none() {
            outcomes[i] = Some(report(conn, &account, mailbox, &q.window)?);
        }
    }
    Ok(q.mailboxes
        .iter()
        .zip(outcomes)
        .map(|(mailbox, outcome)| Schedule {
            mailbox: mailbox.clone(),
            outcome: outcome.unwrap_or_else(|| Err(MailboxError::Other("not read".into()))),
        })
        .collect())
}

fn schedule_of(periods: &[Period]) -> MailboxSchedule {
    MailboxSchedule { blocks: periods.iter().map(Period::block).collect(), working_hours: None, merged_view: None }
}

/// One POST to the outbox. `None` for mailboxes to read by REPORT instead.
fn outbox(
    conn: &Connection,
    account: &Account,
    q: &Query,
) -> Result<Vec<Option<Result<MailboxSchedule, MailboxError>>>, ProviderError> {
    let url = account.outbox.as_deref().expect("schedules() checked the outbox");
    let organizer =
        conn.organizer.map(str::to_string).or_else(|| account.organizer().map(str::to_string)).ok_or_else(|| {
            ProviderError::Misconfigured(
                "the account has no calendar user address to organize free/busy requests: set organizer".into(),
            )
        })?;
    let body = ical::free_busy_request(
        &organizer,
        &q.mailboxes,
        q.window.start,
        q.window.end,
        freebusy_provider_sdk::cache::now_ms(),
    );
    let resp = webdav::send(conn, "POST", url, None, "text/calendar; charset=utf-8", &body)?;
    match resp.status {
        200 => {}
        403 => {
            return Err(ProviderError::AuthFailed(format!(
                "the server refused the account a free/busy request in its outbox {} (HTTP 403: it lacks the schedule-send-freebusy privilege, RFC 6638 §6.1.4)",
                path_of(url)
            )))
        }
        404 => {
            discovery::forget_account(conn);
            return Err(ProviderError::Unavailable(format!("the scheduling outbox {} is gone (HTTP 404)", path_of(url))));
        }
        _ => return Err(webdav::unexpected(&resp, "a free/busy request", url)),
    }
    let root =
        parse(&resp.body).map_err(|e| ProviderError::Unavailable(format!("unreadable schedule-response: {e}")))?;
    if root.name != "schedule-response" {
        return Err(ProviderError::Unavailable(format!("expected a CALDAV:schedule-response, got <{}>", root.name)));
    }
    let mut out: Vec<Option<Result<MailboxSchedule, MailboxError>>> = vec![None; q.mailboxes.len()];
    for response in root.all("response") {
        let recipient = response.text_at(&["recipient", "href"]).unwrap_or_default();
        let recipient =
            recipient.get(7..).filter(|_| recipient.to_ascii_lowercase().starts_with("mailto:")).unwrap_or(recipient);
        let Some(i) = q.mailboxes.iter().position(|m| m.eq_ignore_ascii_case(recipient)) else { continue };
        let status = response.text_at(&["request-status"]).unwrap_or_default();
        // Request statuses: RFC 5545 §3.8.8.3 and RFC 6638 §7.3.
        out[i] = match status.split(';').next().unwrap_or_default().trim() {
            s if s.starts_with("2.") => {
                let data = response.text_at(&["calendar-data"]).unwrap_or_default();
                Some(ical::busy_periods(data).map(|p| schedule_of(&p)).map_err(MailboxError::Other))
            }
            "3.7" => {
                Some(Err(MailboxError::NotFound(format!("the server knows no calendar user {recipient} ({status})"))))
            }
            // No authority for this mailbox: read its calendars instead.
            "3.8" => None,
            _ => Some(Err(MailboxError::Other(format!("the server could not answer for {recipient} ({status})")))),
        };
    }
    // A recipient left out of the answer is read by REPORT rather than taken as free.
    Ok(out)
}

/// Free/busy of one mailbox by `free-busy-query` on each of its calendars.
fn report(
    conn: &Connection,
    account: &Account,
    mailbox: &str,
    window: &Window,
) -> Result<Result<MailboxSchedule, MailboxError>, ProviderError> {
    let homes = match discovery::homes_of(conn, account, mailbox)? {
        Ok(homes) => homes,
        Err(e) => return Ok(Err(e)),
    };
    let body = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><C:free-busy-query {NAMESPACES}><C:time-range start="{}" end="{}"/></C:free-busy-query>"#,
        ical::utc_stamp(window.start),
        ical::utc_stamp(window.end)
    );
    let mut periods = Vec::new();
    for home in homes {
        let calendars = match discovery::calendars(conn, &home)? {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        for calendar in calendars {
            let resp = webdav::send(conn, "REPORT", &calendar, Some("1"), "application/xml; charset=utf-8", &body)?;
            match resp.status {
                200 => match ical::busy_periods(&resp.text()) {
                    Ok(p) => periods.extend(p),
                    Err(e) => return Ok(Err(MailboxError::Other(format!("{}: {e}", path_of(&calendar))))),
                },
                // RFC 4791 §7.10: the CALDAV:read-free-busy privilege (or read) is needed.
                403 => {
                    return Ok(Err(MailboxError::AccessDenied(format!(
                        "the server refused free/busy of {} (HTTP 403: the account needs the read-free-busy privilege)",
                        path_of(&calendar)
                    ))))
                }
                404 => return Ok(Err(MailboxError::NotFound(format!("no calendar at {}", path_of(&calendar))))),
                s => {
                    return Ok(Err(MailboxError::Other(format!(
                        "the server answered HTTP {s} to free-busy-query on {} (a server limit on occurrences in the window reads as this; try a shorter window)",
                        path_of(&calendar)
                    ))))
                }
            }
        }
    }
    Ok(Ok(schedule_of(&periods)))
}
