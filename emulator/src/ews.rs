//! Exchange Web Services: `POST /EWS/Exchange.asmx` with GetUserAvailability
//! (https://learn.microsoft.com/exchange/client-developer/web-service-reference/getuseravailability-operation),
//! answered from the same tenant model as Graph. When the emulator knows where the schemas are
//! (`Options::ews_schema_dir`), every request body is validated against `messages.xsd` with
//! xmllint and rejected with an ErrorSchemaValidation fault, as Exchange does; responses follow
//! the same schema (the tests validate them too).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use chrono::{DateTime, NaiveDateTime, NaiveTime, Utc, Weekday};
use quick_xml::escape::escape;

use crate::ews_zone::{rules_of, RequestZone, Transition};
use crate::tenant::{Instance, Mailbox, ShowAs, Tenant};
use crate::{Fault, FaultTarget, State as Emu};

const SOAP_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const TYPES_NS: &str = "http://schemas.microsoft.com/exchange/services/2006/types";
const MESSAGES_NS: &str = "http://schemas.microsoft.com/exchange/services/2006/messages";
/// At most 100 mailboxes per request
/// (https://learn.microsoft.com/exchange/client-developer/web-service-reference/getuseravailability-operation).
const MAX_MAILBOXES: usize = 100;

fn xml(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
}

fn envelope(body: &str) -> String {
    // ServerVersionInfo as in Microsoft's Exchange 2013 example
    // (Learn "Get free/busy information by using EWS in Exchange").
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{SOAP_NS}"><s:Header><h:ServerVersionInfo MajorVersion="15" MinorVersion="0" MajorBuildNumber="873" MinorBuildNumber="9" Version="V2_9" xmlns:h="{TYPES_NS}" xmlns="{TYPES_NS}" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/></s:Header><s:Body>{body}</s:Body></s:Envelope>"#
    )
}

/// A SOAP fault with HTTP 500, shaped like the ErrorServerBusy fault captured in ecederstrand/exchangelib
/// tests/test_services.py.
pub(crate) fn fault(code: &str, message: &str, back_off_ms: Option<u32>) -> Response {
    let message = escape(message);
    let back_off = back_off_ms
        .map(|ms| format!(r#"<t:MessageXml xmlns:t="{TYPES_NS}"><t:Value Name="BackOffMilliseconds">{ms}</t:Value></t:MessageXml>"#))
        .unwrap_or_default();
    let errors = "http://schemas.microsoft.com/exchange/services/2006/errors";
    let body = format!(
        r#"<s:Fault><faultcode xmlns:a="{TYPES_NS}">a:{code}</faultcode><faultstring xml:lang="en-US">{message}</faultstring><detail><e:ResponseCode xmlns:e="{errors}">{code}</e:ResponseCode><e:Message xmlns:e="{errors}">{message}</e:Message>{back_off}</detail></s:Fault>"#
    );
    xml(StatusCode::INTERNAL_SERVER_ERROR, envelope(&body))
}

fn unauthorized() -> Response {
    // On-premises EWS offers these schemes; the body is empty.
    (
        StatusCode::UNAUTHORIZED,
        [
            (header::WWW_AUTHENTICATE, "Basic realm=\"mail.contoso.com\""),
            (header::WWW_AUTHENTICATE, "Negotiate"),
            (header::WWW_AUTHENTICATE, "NTLM"),
        ],
        "",
    )
        .into_response()
}

enum Caller<'a> {
    Basic(&'a Tenant),
    AppOnly(&'a Tenant),
    Delegated(&'a Tenant),
}

fn authenticate<'a>(emu: &'a Emu, headers: &HeaderMap) -> Result<Caller<'a>, Response> {
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("");
    if let Some(basic) = auth.strip_prefix("Basic ") {
        let decoded =
            base64::engine::general_purpose::STANDARD.decode(basic.trim()).ok().and_then(|b| String::from_utf8(b).ok());
        let Some((user, password)) = decoded.as_deref().and_then(|d| d.split_once(':')) else {
            return Err(unauthorized());
        };
        if emu.next_fault_where(|f| matches!(f, crate::Fault::SecretRejected)).is_some() {
            return Err(unauthorized());
        }
        return emu.tenants.iter().find(|t| t.ews_login(user, password)).map(Caller::Basic).ok_or_else(unauthorized);
    }
    if let Some(bearer) = auth.strip_prefix("Bearer ") {
        let token = emu.tokens.lock().expect("token table").get(bearer.trim()).cloned();
        let token = token
            .filter(|t| t.expires > Utc::now() && t.audience == "https://outlook.office365.com")
            .ok_or_else(unauthorized)?;
        let tenant = emu.tenant(&token.tenant_id).ok_or_else(unauthorized)?;
        // A signed-in user with EWS.AccessAsUser.All acts as themselves; an app needs
        // full_access_as_app and impersonation (Learn "Authenticate an EWS application by using OAuth").
        if token.scopes.iter().any(|s| s == "EWS.AccessAsUser.All") {
            return Ok(Caller::Delegated(tenant));
        }
        if !token.roles.iter().any(|r| r == "full_access_as_app") {
            return Err(fault("ErrorAccessDenied", "Access is denied. Check credentials and try again.", None));
        }
        return Ok(Caller::AppOnly(tenant));
    }
    Err(unauthorized())
}

/// The body element's XML with the namespace declarations in scope, for xmllint.
fn standalone(node: roxmltree::Node, text: &str) -> String {
    let raw = &text[node.range()];
    let tag_end = raw.find(|c: char| c.is_whitespace() || c == '>' || c == '/').unwrap_or(raw.len());
    let declarations: String = node
        .namespaces()
        .filter_map(|ns| ns.name().map(|prefix| (prefix, ns.uri())))
        .filter(|(prefix, _)| !raw[..raw.find('>').unwrap_or(raw.len())].contains(&format!("xmlns:{prefix}=")))
        .map(|(prefix, uri)| format!(" xmlns:{prefix}=\"{uri}\""))
        .collect();
    format!("{}{declarations}{}", &raw[..tag_end], &raw[tag_end..])
}

async fn validate(emu: &Emu, element: String) -> Result<(), String> {
    match &emu.ews_schema_dir {
        Some(dir) => xmllint(dir, &element).await,
        None => Ok(()),
    }
}

/// Validate one element (with its namespaces declared) against `messages.xsd` in `schema_dir`
/// with xmllint; the error is xmllint's first line.
pub async fn xmllint(schema_dir: &std::path::Path, element: &str) -> Result<(), String> {
    let dir = schema_dir;
    let mut child = tokio::process::Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(dir.join("messages.xsd"))
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("xmllint could not run: {e}"))?;
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin.write_all(element.as_bytes()).await.map_err(|e| e.to_string())?;
    }
    let out = child.wait_with_output().await.map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).lines().next().unwrap_or("invalid").to_string())
    }
}

fn child<'a, 'i>(node: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    node.children().find(|c| c.is_element() && c.tag_name().name() == name)
}

fn text<'a>(node: roxmltree::Node<'a, '_>, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(node, |n, name| child(n, name)).and_then(|n| n.text()).map(str::trim)
}

fn weekday(name: &str) -> Weekday {
    match name {
        "Monday" => Weekday::Mon,
        "Tuesday" => Weekday::Tue,
        "Wednesday" => Weekday::Wed,
        "Thursday" => Weekday::Thu,
        "Friday" => Weekday::Fri,
        "Saturday" => Weekday::Sat,
        _ => Weekday::Sun,
    }
}

fn transition(node: Option<roxmltree::Node>) -> Transition {
    let get = |name: &str| node.and_then(|n| text(n, &[name])).unwrap_or("0");
    Transition {
        bias: get("Bias").parse().unwrap_or(0),
        time: NaiveTime::parse_from_str(get("Time"), "%H:%M:%S").unwrap_or(NaiveTime::MIN),
        // Some clients send -1 (the TimeZoneDefinition convention) for "last".
        order: match get("DayOrder").parse::<i32>().unwrap_or(0) {
            -1 => 5,
            n => n.clamp(0, 5) as u32,
        },
        month: get("Month").parse().unwrap_or(0),
        weekday: weekday(get("DayOfWeek")),
    }
}

/// The request's zone: `t:TimeZone`, else the `TimeZoneContext` header's named zone, else UTC.
fn request_zone(request: roxmltree::Node, header: Option<roxmltree::Node>) -> RequestZone {
    if let Some(tz) = child(request, "TimeZone") {
        return RequestZone::Rules {
            bias: text(tz, &["Bias"]).and_then(|b| b.parse().ok()).unwrap_or(0),
            standard: transition(child(tz, "StandardTime")),
            daylight: transition(child(tz, "DaylightTime")),
        };
    }
    let named = header
        .and_then(|h| child(h, "TimeZoneContext"))
        .and_then(|c| child(c, "TimeZoneDefinition"))
        .and_then(|d| d.attribute("Id"))
        .and_then(freebusy_core::zones::windows_to_iana)
        .and_then(|iana| iana.parse::<chrono_tz::Tz>().ok());
    named.map_or_else(RequestZone::utc, RequestZone::Named)
}

fn parse_time(zone: &RequestZone, value: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%.f").ok().map(|l| zone.to_utc(l))
}

/// `POST /EWS/Exchange.asmx`.
pub async fn exchange_asmx(State(emu): State<Arc<Emu>>, headers: HeaderMap, body: Bytes) -> Response {
    crate::count_ews_request(&emu);
    let caller = match authenticate(&emu, &headers) {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let tenant = match caller {
        Caller::Basic(t) | Caller::AppOnly(t) | Caller::Delegated(t) => t,
    };
    // EWSEnabled = false (Learn "Control access to EWS in Exchange"): the answer Exchange Online gave in its
    // pre-retirement "scream tests".
    if !tenant.ews_enabled {
        return (StatusCode::FORBIDDEN, "").into_response();
    }
    let app_only = matches!(caller, Caller::AppOnly(_));
    // Faults that cut or delay the right answer run the request once, as it would have been
    // answered (recorded once, counted once).
    match emu.next_fault_for(FaultTarget::Ews) {
        Some(Fault::EwsServerBusy { back_off_ms }) => fault(
            "ErrorServerBusy",
            "The server cannot service this request right now. Try again later.",
            Some(back_off_ms),
        ),
        Some(Fault::EwsHtmlPage { status }) => {
            let page = "<html><head><title>Service Unavailable</title></head><body><h2>Service Unavailable</h2><hr><p>HTTP Error 503. The service is unavailable.</p></body></html>";
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            (code, [(header::CONTENT_TYPE, "text/html")], page).into_response()
        }
        Some(Fault::EwsTruncated) => {
            let whole = respond(&emu, tenant, app_only, &body).await;
            let (parts, full) = whole.into_parts();
            let bytes = axum::body::to_bytes(full, usize::MAX).await.unwrap_or_default();
            let mut resp = Response::from_parts(parts, axum::body::Body::from(bytes.slice(..bytes.len() / 2)));
            resp.headers_mut().remove(header::CONTENT_LENGTH);
            resp
        }
        Some(Fault::EwsSlow { ms }) => {
            let whole = respond(&emu, tenant, app_only, &body).await;
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            whole
        }
        Some(Fault::EwsConnectionReset) => crate::cut_off(respond(&emu, tenant, app_only, &body).await).await,
        _ => respond(&emu, tenant, app_only, &body).await,
    }
}

/// The answer to an authenticated EWS request from `tenant` (`app_only`: with an app-only token).
async fn respond(emu: &Emu, tenant: &Tenant, app_only: bool, body: &Bytes) -> Response {
    let soap = String::from_utf8_lossy(body).into_owned();
    emu.record_ews_request(&soap);
    let Ok(doc) = roxmltree::Document::parse(&soap) else {
        return fault(
            "ErrorSchemaValidation",
            "The request failed schema validation: the XML is not well formed.",
            None,
        );
    };
    let envelope_node = doc.root_element();
    let header_node = child(envelope_node, "Header");
    let Some(request) = child(envelope_node, "Body").and_then(|b| b.children().find(|c| c.is_element())) else {
        return fault("ErrorSchemaValidation", "The request failed schema validation: no SOAP Body.", None);
    };
    if let Err(why) = validate(emu, standalone(request, &soap)).await {
        return fault("ErrorSchemaValidation", &format!("The request failed schema validation: {why}"), None);
    }
    // App-only tokens must name a mailbox to act as, whatever the operation
    // (Learn "Authenticate an EWS application by using OAuth"; OfficeDev/ews-managed-api#245,
    // ecederstrand/exchangelib#735).
    let impersonated =
        header_node.and_then(|h| child(h, "ExchangeImpersonation")).and_then(|i| child(i, "ConnectingSID"));
    if app_only && impersonated.is_none() {
        return fault(
            "ErrorInvalidExchangeImpersonationHeaderData",
            "ExchangeImpersonation SOAP header must be present for this type of OAuth token.",
            None,
        );
    }
    if request.tag_name().namespace() != Some(MESSAGES_NS) {
        return fault("ErrorInvalidRequest", "The request is not an EWS message.", None);
    }
    let answer = |body: String| xml(StatusCode::OK, envelope(&body));
    match request.tag_name().name() {
        "GetUserAvailabilityRequest" => {}
        "ResolveNames" => return answer(resolve_names(tenant, text(request, &["UnresolvedEntry"]).unwrap_or(""))),
        "GetRoomLists" => return answer(room_lists(tenant)),
        "GetServerTimeZones" => {
            let ids: Vec<&str> = child(request, "Ids")
                .map(|ids| ids.children().filter(|c| c.is_element()).filter_map(|c| c.text()).map(str::trim).collect())
                .unwrap_or_default();
            return answer(server_time_zones(&ids));
        }
        "GetRooms" => return answer(rooms(tenant, text(request, &["RoomList", "EmailAddress"]).unwrap_or(""))),
        other => return fault("ErrorInvalidRequest", &format!("The emulator does not implement {other}."), None),
    }
    let zone = request_zone(request, header_node);
    let mailboxes: Vec<&str> = child(request, "MailboxDataArray")
        .map(|a| a.children().filter(|c| c.is_element()).filter_map(|m| text(m, &["Email", "Address"])).collect())
        .unwrap_or_default();
    if mailboxes.is_empty() {
        return fault("ErrorMailboxDataArrayEmpty", "The MailboxData array is empty.", None);
    }
    if mailboxes.len() > MAX_MAILBOXES {
        return fault(
            "ErrorMailboxDataArrayTooBig",
            &format!("There are too many target users in the EmailAddress array. The allowed size = {MAX_MAILBOXES}; the actual size = {}.", mailboxes.len()),
            None,
        );
    }
    let options = child(request, "FreeBusyViewOptions");
    let window = options.and_then(|o| child(o, "TimeWindow"));
    let (Some(start), Some(end)) = (
        window.and_then(|w| text(w, &["StartTime"])).and_then(|t| parse_time(&zone, t)),
        window.and_then(|w| text(w, &["EndTime"])).and_then(|t| parse_time(&zone, t)),
    ) else {
        return fault(
            "ErrorInvalidTimeInterval",
            "The time duration specified for FreeBusyViewOptions.TimeWindow is invalid.",
            None,
        );
    };
    if end <= start {
        return fault(
            "ErrorInvalidTimeInterval",
            "The time duration specified for FreeBusyViewOptions.TimeWindow is invalid.",
            None,
        );
    }
    let days = ((end - start).num_minutes() + 24 * 60 - 1) / (24 * 60);
    if days > emu.ews_max_window_days {
        return fault(
            "ErrorTimeIntervalTooBig",
            &format!("The requested time duration specified for FreeBusyViewOptions.TimeWindow is too long. The allowed limit = {} days; the actual limit = {days} days.", emu.ews_max_window_days),
            None,
        );
    }
    let interval: i64 =
        options.and_then(|o| text(o, &["MergedFreeBusyIntervalInMinutes"])).and_then(|i| i.parse().ok()).unwrap_or(30);
    if !(5..=1440).contains(&interval) || interval > (end - start).num_minutes() {
        return fault(
            "ErrorInvalidMergedFreeBusyInterval",
            "The specified merged free/busy interval is not valid. Specify an interval that is less than the free/busy time window and between 5 and 1440 minutes.",
            None,
        );
    }
    let view = options.and_then(|o| text(o, &["RequestedView"])).unwrap_or("FreeBusy");
    let responses: String =
        mailboxes.iter().map(|m| free_busy_response(tenant, m, start, end, interval, view, &zone)).collect();
    let body = format!(
        r#"<GetUserAvailabilityResponse xmlns="{MESSAGES_NS}"><FreeBusyResponseArray>{responses}</FreeBusyResponseArray></GetUserAvailabilityResponse>"#
    );
    xml(StatusCode::OK, envelope(&body))
}

fn free_busy_response(
    tenant: &Tenant,
    address: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    interval: i64,
    view: &str,
    zone: &RequestZone,
) -> String {
    let Some(m) = tenant.mailbox(address) else {
        // A per-mailbox failure: ErrorMailRecipientNotFound, ResponseClass Error (Microsoft's support article
        // "ErrorMailRecipientNotFound response when viewing free/busy information";
        // https://learn.microsoft.com/exchange/client-developer/web-service-reference/getuseravailability-operation).
        let text = escape(format!(
            "Microsoft.Exchange.InfoWorker.Common.Availability.MailRecipientNotFoundException: Unable to resolve e-mail address {address} to an Active Directory object."
        ));
        return format!(
            r#"<FreeBusyResponse><ResponseMessage ResponseClass="Error"><MessageText>{text}</MessageText><ResponseCode>ErrorMailRecipientNotFound</ResponseCode><DescriptiveLinkKey>0</DescriptiveLinkKey></ResponseMessage><FreeBusyView><FreeBusyViewType xmlns="{TYPES_NS}">None</FreeBusyViewType></FreeBusyView></FreeBusyResponse>"#
        );
    };
    if !m.share_free_busy {
        let text = escape(format!(
            "Microsoft.Exchange.InfoWorker.Common.Availability.NoFreeBusyAccessException: No free/busy access for {address}."
        ));
        return format!(
            r#"<FreeBusyResponse><ResponseMessage ResponseClass="Error"><MessageText>{text}</MessageText><ResponseCode>ErrorNoFreeBusyAccess</ResponseCode><DescriptiveLinkKey>0</DescriptiveLinkKey></ResponseMessage><FreeBusyView><FreeBusyViewType xmlns="{TYPES_NS}">None</FreeBusyViewType></FreeBusyView></FreeBusyResponse>"#
        );
    }
    // The mailbox decides what the caller sees: without shared details, Detailed views are
    // downgraded (as DetailedMerged became FreeBusyMerged in Microsoft's example at
    // https://learn.microsoft.com/exchange/client-developer/web-service-reference/getuseravailability-operation).
    let view = match (view, m.share_details) {
        ("Detailed", false) => "FreeBusy",
        ("DetailedMerged", false) => "FreeBusyMerged",
        (v, _) => v,
    };
    let items = m.instances(start, end);
    let merged = view.contains("Merged").then(|| {
        format!("<MergedFreeBusy>{}</MergedFreeBusy>", crate::tenant::merged_digits(&items, start, end, interval))
    });
    let events = (view != "MergedOnly").then(|| {
        let list: String = items.iter().map(|i| calendar_event(i, m, view.starts_with("Detailed"), zone)).collect();
        format!("<CalendarEventArray>{list}</CalendarEventArray>")
    });
    format!(
        r#"<FreeBusyResponse><ResponseMessage ResponseClass="Success"><ResponseCode>NoError</ResponseCode></ResponseMessage><FreeBusyView><FreeBusyViewType xmlns="{TYPES_NS}">{view}</FreeBusyViewType>{merged}{events}{hours}</FreeBusyView></FreeBusyResponse>"#,
        merged = merged
            .map(|m| m.replacen("<MergedFreeBusy>", &format!(r#"<MergedFreeBusy xmlns="{TYPES_NS}">"#), 1))
            .unwrap_or_default(),
        events = events
            .map(|e| e.replacen("<CalendarEventArray>", &format!(r#"<CalendarEventArray xmlns="{TYPES_NS}">"#), 1))
            .unwrap_or_default(),
        hours = working_hours(m, start),
    )
}

fn busy_type(s: ShowAs) -> &'static str {
    match s {
        ShowAs::Free => "Free",
        ShowAs::Tentative => "Tentative",
        ShowAs::Busy => "Busy",
        ShowAs::Oof => "OOF",
        ShowAs::WorkingElsewhere => "WorkingElsewhere",
    }
}

fn calendar_event(i: &Instance, m: &Mailbox, detailed: bool, zone: &RequestZone) -> String {
    // Local wall-clock times in the request's zone, without an offset (Microsoft's Exchange 2013 examples,
    // Learn "Get free/busy information by using EWS in Exchange").
    let local = |t| zone.to_local(t).format("%Y-%m-%dT%H:%M:%S").to_string();
    let details = detailed.then(|| {
        let (subject, location) = if i.private {
            (String::new(), String::new())
        } else {
            (format!("<Subject>{}</Subject>", escape(&i.subject)), format!("<Location>{}</Location>", escape(&i.location)))
        };
        format!(
            "<CalendarEventDetails><ID>{id}</ID>{subject}{location}<IsMeeting>{meeting}</IsMeeting><IsRecurring>{recurring}</IsRecurring><IsException>false</IsException><IsReminderSet>{reminder}</IsReminderSet><IsPrivate>{private}</IsPrivate></CalendarEventDetails>",
            id = crate::tenant::object_id(&format!("{}{}", m.address, i.start)).replace('-', "").to_uppercase(),
            meeting = i.organizer != m.display_name,
            recurring = i.recurring,
            reminder = !i.all_day,
            private = i.private,
        )
    });
    format!(
        "<CalendarEvent><StartTime>{}</StartTime><EndTime>{}</EndTime><BusyType>{}</BusyType>{}</CalendarEvent>",
        local(i.start),
        local(i.end),
        busy_type(i.show_as),
        details.unwrap_or_default()
    )
}

fn serializable_time(t: &Transition) -> String {
    let day = day_name(t.weekday);
    format!(
        "<Bias>{}</Bias><Time>{}</Time><DayOrder>{}</DayOrder><Month>{}</Month><DayOfWeek>{day}</DayOfWeek>",
        t.bias,
        t.time.format("%H:%M:%S"),
        t.order,
        t.month
    )
}

/// WorkingHours: the mailbox's own zone as bias and transitions, and its working period.
fn working_hours(m: &Mailbox, at: DateTime<Utc>) -> String {
    use chrono::{Datelike, Timelike};
    let (bias, standard, daylight) = rules_of(m.time_zone, at.year());
    let days: Vec<&str> = m.work_days.iter().map(|d| day_name(*d)).collect();
    let minutes = |t: NaiveTime| t.hour() * 60 + t.minute();
    format!(
        r#"<WorkingHours xmlns="{TYPES_NS}"><TimeZone><Bias>{bias}</Bias><StandardTime>{}</StandardTime><DaylightTime>{}</DaylightTime></TimeZone><WorkingPeriodArray><WorkingPeriod><DayOfWeek>{}</DayOfWeek><StartTimeInMinutes>{}</StartTimeInMinutes><EndTimeInMinutes>{}</EndTimeInMinutes></WorkingPeriod></WorkingPeriodArray></WorkingHours>"#,
        serializable_time(&standard),
        serializable_time(&daylight),
        days.join(" "),
        minutes(m.work_start),
        minutes(m.work_end)
    )
}

fn email_address(name: &str, address: &str, mailbox_type: &str) -> String {
    format!(
        "<t:Name>{}</t:Name><t:EmailAddress>{}</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType><t:MailboxType>{mailbox_type}</t:MailboxType>",
        escape(name),
        escape(address)
    )
}

/// ResolveNames (ambiguous name resolution against the directory): prefixes of the display name,
/// of any word in it, or of the address. One match is Success, several a Warning with
/// ErrorNameResolutionMultipleResults, none an Error with ErrorNameResolutionNoResults; at most
/// 100 resolutions (messages.xsd ResolveNamesResponseMessageType, types.xsd ArrayOfResolutionType).
fn resolve_names(tenant: &Tenant, entry: &str) -> String {
    let needle = entry.trim().trim_start_matches("SMTP:").trim_start_matches("smtp:").to_lowercase();
    let matches: Vec<&Mailbox> = tenant
        .mailboxes
        .iter()
        .filter(|m| {
            let name = m.display_name.to_lowercase();
            !needle.is_empty()
                && (name.starts_with(&needle)
                    || name.split_whitespace().any(|w| w.starts_with(&needle))
                    || m.address.to_lowercase().starts_with(&needle))
        })
        .take(100)
        .collect();
    let (class, code, text) = match matches.len() {
        0 => ("Error", "ErrorNameResolutionNoResults", "No results were found."),
        1 => ("Success", "NoError", ""),
        _ => ("Warning", "ErrorNameResolutionMultipleResults", "Multiple results were found."),
    };
    let text = if text.is_empty() { String::new() } else { format!("<m:MessageText>{text}</m:MessageText>") };
    let set = if matches.is_empty() {
        String::new()
    } else {
        let items: String = matches
            .iter()
            .map(|m| {
                format!(
                    "<t:Resolution><t:Mailbox>{}</t:Mailbox></t:Resolution>",
                    email_address(&m.display_name, &m.address, "Mailbox")
                )
            })
            .collect();
        format!(
            r#"<m:ResolutionSet TotalItemsInView="{}" IncludesLastItemInRange="true">{items}</m:ResolutionSet>"#,
            matches.len()
        )
    };
    format!(
        r#"<m:ResolveNamesResponse xmlns:m="{MESSAGES_NS}" xmlns:t="{TYPES_NS}"><m:ResponseMessages><m:ResolveNamesResponseMessage ResponseClass="{class}">{text}<m:ResponseCode>{code}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>{set}</m:ResolveNamesResponseMessage></m:ResponseMessages></m:ResolveNamesResponse>"#
    )
}

/// GetRoomLists: every room list of the organisation.
fn room_lists(tenant: &Tenant) -> String {
    let lists: String = tenant
        .room_lists
        .iter()
        .map(|(name, address, _)| format!("<t:Address>{}</t:Address>", email_address(name, address, "PublicDL")))
        .collect();
    format!(
        r#"<m:GetRoomListsResponse ResponseClass="Success" xmlns:m="{MESSAGES_NS}" xmlns:t="{TYPES_NS}"><m:ResponseCode>NoError</m:ResponseCode><m:RoomLists>{lists}</m:RoomLists></m:GetRoomListsResponse>"#
    )
}

/// GetRooms: the rooms of one room list.
fn rooms(tenant: &Tenant, list: &str) -> String {
    let Some((_, _, members)) = tenant.room_lists.iter().find(|(_, address, _)| address.eq_ignore_ascii_case(list))
    else {
        return format!(
            r#"<m:GetRoomsResponse ResponseClass="Error" xmlns:m="{MESSAGES_NS}" xmlns:t="{TYPES_NS}"><m:MessageText>No results were found.</m:MessageText><m:ResponseCode>ErrorNameResolutionNoResults</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey></m:GetRoomsResponse>"#
        );
    };
    let rooms: String = members
        .iter()
        .filter_map(|a| tenant.mailbox(a))
        .map(|m| format!("<t:Room><t:Id>{}</t:Id></t:Room>", email_address(&m.display_name, &m.address, "Mailbox")))
        .collect();
    format!(
        r#"<m:GetRoomsResponse ResponseClass="Success" xmlns:m="{MESSAGES_NS}" xmlns:t="{TYPES_NS}"><m:ResponseCode>NoError</m:ResponseCode><m:Rooms>{rooms}</m:Rooms></m:GetRoomsResponse>"#
    )
}

fn day_name(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

/// An xs:duration for a bias in minutes (UTC = local + bias), e.g. -60 -> "-PT1H".
fn duration(minutes: i32) -> String {
    let sign = if minutes < 0 { "-" } else { "" };
    let m = minutes.abs();
    match (m / 60, m % 60) {
        (0, 0) => "PT0H".into(),
        (h, 0) => format!("{sign}PT{h}H"),
        (0, r) => format!("{sign}PT{r}M"),
        (h, r) => format!("{sign}PT{h}H{r}M"),
    }
}

/// GetServerTimeZones with full data: each requested Windows zone (all known ones when none is
/// named) as Periods, one TransitionsGroup of yearly rules and a Transition to it (types.xsd
/// TimeZoneDefinitionType), from the zone's current rules.
fn server_time_zones(ids: &[&str]) -> String {
    use chrono::Datelike;
    let year = Utc::now().year();
    let wanted: Vec<&str> = if ids.is_empty() {
        vec!["UTC", "W. Europe Standard Time", "Eastern Standard Time", "Pacific Standard Time"]
    } else {
        ids.to_vec()
    };
    let mut definitions = String::new();
    for id in wanted {
        let Some(tz) = freebusy_core::zones::windows_to_iana(id).and_then(|i| i.parse::<chrono_tz::Tz>().ok()) else {
            continue;
        };
        let (bias, standard, daylight) = rules_of(tz, year);
        let rule = |name: &str| format!("trule:Microsoft/Registry/{}/{year}-{name}", escape(id));
        let mut periods = format!(r#"<t:Period Bias="{}" Name="Standard" Id="{}"/>"#, duration(bias), rule("Standard"));
        let group = if daylight.month == 0 {
            format!(r#"<t:Transition><t:To Kind="Period">{}</t:To></t:Transition>"#, rule("Standard"))
        } else {
            periods.push_str(&format!(
                r#"<t:Period Bias="{}" Name="Daylight" Id="{}"/>"#,
                duration(bias + daylight.bias),
                rule("Daylight")
            ));
            // Occurrence -1 is the last such weekday of the month.
            let transition = |t: &Transition, to: &str| {
                use chrono::Timelike;
                format!(
                    r#"<t:RecurringDayTransition><t:To Kind="Period">{to}</t:To><t:TimeOffset>{}</t:TimeOffset><t:Month>{}</t:Month><t:DayOfWeek>{}</t:DayOfWeek><t:Occurrence>{}</t:Occurrence></t:RecurringDayTransition>"#,
                    duration_positive(t.time.hour() * 60 + t.time.minute()),
                    t.month,
                    day_name(t.weekday),
                    if t.order == 5 { -1 } else { t.order as i32 }
                )
            };
            format!("{}{}", transition(&daylight, &rule("Daylight")), transition(&standard, &rule("Standard")))
        };
        definitions.push_str(&format!(
            r#"<t:TimeZoneDefinition Id="{}" Name="{}"><t:Periods>{periods}</t:Periods><t:TransitionsGroups><t:TransitionsGroup Id="0">{group}</t:TransitionsGroup></t:TransitionsGroups><t:Transitions><t:Transition><t:To Kind="Group">0</t:To></t:Transition></t:Transitions></t:TimeZoneDefinition>"#,
            escape(id),
            escape(id)
        ));
    }
    format!(
        r#"<m:GetServerTimeZonesResponse xmlns:m="{MESSAGES_NS}" xmlns:t="{TYPES_NS}"><m:ResponseMessages><m:GetServerTimeZonesResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:TimeZoneDefinitions>{definitions}</m:TimeZoneDefinitions></m:GetServerTimeZonesResponseMessage></m:ResponseMessages></m:GetServerTimeZonesResponse>"#
    )
}

/// A time of day as an xs:duration ("PT2H", "PT2H30M").
fn duration_positive(minutes: u32) -> String {
    duration(minutes as i32).replace("PT0H", "PT0M")
}
