//! The EWS provider component in the real host against the emulator's EWS endpoint, which
//! validates every request against `messages.xsd` (as copied in jamesiarmes/php-ews src/assets/) when the
//! schemas are present.

use freebusy_core::api::{FreeBusyResponse, MailboxResult};
use freebusy_emulator::{demo, Fault, Options};
use freebusy_host::runtime::RuntimeSettings;
use freebusy_tests::{ews_tenant, get, graph_tenant, start_with, validating_options, xmllint, Stack};

const WEEK: &str = "start=2026-03-23T00:00:00Z&end=2026-03-31T00:00:00Z";
const PEOPLE: &str = "adele.vance@contoso.com,megan.bowen@contoso.com,pradeep.gupta@contoso.com,room.adams@contoso.com,nobody@contoso.com";

async fn ews_stack(password: &str) -> Stack {
    ews_stack_for(demo::tenant(), password).await
}

/// A Graph tenant `contoso` and an EWS tenant `onprem` over an emulator serving `tenant`.
async fn ews_stack_for(tenant: freebusy_emulator::tenant::Tenant, password: &str) -> Stack {
    let options = Options { tenants: vec![tenant], ..validating_options() };
    start_with(options, RuntimeSettings::default(), |url| {
        format!(
            "{}{}",
            graph_tenant("contoso", url, demo::CLIENT_ID, demo::CLIENT_SECRET),
            ews_tenant("onprem", url, password)
        )
    })
    .await
}

async fn ask(api: &str, tenant: &str, query: &str) -> FreeBusyResponse {
    let (status, _, body) = get(&format!("{api}/v1/tenants/{tenant}/freebusy?{query}")).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn error_code(m: &MailboxResult) -> Option<&str> {
    m.error.as_ref().map(|e| e.code.as_str())
}

/// The `m:GetUserAvailabilityRequest` element of a captured envelope, made standalone.
fn body_element(envelope: &str) -> String {
    let start = envelope.find("<m:GetUserAvailabilityRequest").expect("a GetUserAvailability request");
    let end =
        envelope.find("</m:GetUserAvailabilityRequest>").expect("closed") + "</m:GetUserAvailabilityRequest>".len();
    envelope[start..end].replacen(
        "<m:GetUserAvailabilityRequest",
        r#"<m:GetUserAvailabilityRequest xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types""#,
        1,
    )
}

#[tokio::test]
async fn ews_and_graph_give_identical_blocks_for_the_same_tenant() {
    let stack = ews_stack(demo::EWS_PASSWORD).await;
    for query in [
        format!("mailboxes={PEOPLE}&{WEEK}"),
        format!("mailboxes={PEOPLE}&start=2026-01-05T00:00:00Z&end=2026-04-05T00:00:00Z"),
    ] {
        let graph = ask(&stack.api, "contoso", &query).await;
        let ews = ask(&stack.api, "onprem", &query).await;
        for (g, e) in graph.mailboxes.iter().zip(&ews.mailboxes) {
            assert_eq!(g.mailbox, e.mailbox);
            assert_eq!(g.busy, e.busy, "{} differs between Graph and EWS for {query}", g.mailbox);
            // Graph names the zone (Windows name); EWS gives rules the provider recognises.
            assert_eq!(g.working_hours, e.working_hours, "{}", g.mailbox);
            assert_eq!(error_code(g), error_code(e), "{}", g.mailbox);
        }
        assert_eq!(error_code(&ews.mailboxes[4]), Some("not-found"));
        assert!(ews.mailboxes[4].error.as_ref().unwrap().message.contains("ErrorMailRecipientNotFound"));
    }
    // The DST week, spelled out for one mailbox: Adele's stand-up moves from 08:00Z to 07:00Z.
    let ews = ask(&stack.api, "onprem", &format!("mailboxes=adele.vance@contoso.com&{WEEK}")).await;
    let busy = ews.mailboxes[0].busy.as_ref().unwrap();
    assert_eq!((busy[0].start.as_str(), busy[0].end.as_str()), ("2026-03-23T08:00:00Z", "2026-03-23T08:15:00Z"));
    assert_eq!((busy[5].start.as_str(), busy[5].end.as_str()), ("2026-03-30T07:00:00Z", "2026-03-30T07:15:00Z"));
}

#[tokio::test]
async fn both_upstreams_merged_views_agree_with_each_other_and_the_computed_view() {
    let stack = ews_stack(demo::EWS_PASSWORD).await;
    // A DST week at 15 minutes, and 90 days at 7 minutes: Graph's calls split at 62 days and
    // EWS's at 42, neither a multiple of 7 minutes, so the joins are tested.
    for query in [
        format!("mailboxes={PEOPLE}&{WEEK}&interval=15&upstream=true"),
        format!("mailboxes={PEOPLE}&start=2026-01-05T00:00:00Z&end=2026-04-05T00:00:00Z&interval=7&upstream=true"),
    ] {
        let graph = ask(&stack.api, "contoso", &query).await;
        let ews = ask(&stack.api, "onprem", &query).await;
        for (g, e) in graph.mailboxes.iter().zip(&ews.mailboxes) {
            if g.error.is_some() {
                assert_eq!((&g.upstream_view, &e.upstream_view), (&None, &None));
                continue;
            }
            let computed = g.availability_view.as_deref().unwrap();
            assert_eq!(Some(computed), e.availability_view.as_deref(), "{}", g.mailbox);
            let from_graph = g.upstream_view.as_deref().unwrap_or_else(|| panic!("{}: no Graph view", g.mailbox));
            let from_ews = e.upstream_view.as_deref().unwrap_or_else(|| panic!("{}: no EWS view", g.mailbox));
            assert_eq!(from_graph, from_ews, "{} for {query}", g.mailbox);
            // Microsoft writes working elsewhere as 0; otherwise its view is freebusy's own.
            assert_eq!(from_graph, computed.replace('4', "0"), "{} for {query}", g.mailbox);
        }
    }
    assert!(
        ews_views_include_working_elsewhere(&stack).await,
        "the demo tenant should have a working-elsewhere item, or the 4-versus-0 rule is untested"
    );
    let asked = stack.emulator.ews_requests();
    assert!(asked.iter().any(|r| r.contains("<t:RequestedView>FreeBusyMerged</t:RequestedView>")
        && r.contains("<t:MergedFreeBusyIntervalInMinutes>7</t:MergedFreeBusyIntervalInMinutes>")));
    // Without upstream=true, no merged view is asked for and none is reported; freebusy's own
    // view is still there.
    let plain = ask(&stack.api, "onprem", &format!("mailboxes={PEOPLE}&{WEEK}&interval=15")).await;
    assert!(plain.mailboxes[..4].iter().all(|m| m.upstream_view.is_none() && m.availability_view.is_some()));
    let last = stack.emulator.ews_requests().pop().unwrap();
    assert!(last.contains("<t:RequestedView>FreeBusy</t:RequestedView>"), "{last}");
}

async fn ews_views_include_working_elsewhere(stack: &Stack) -> bool {
    let r = ask(&stack.api, "onprem", &format!("mailboxes={PEOPLE}&{WEEK}&interval=15")).await;
    r.mailboxes.iter().any(|m| m.availability_view.as_deref().is_some_and(|v| v.contains('4')))
}

#[tokio::test]
async fn every_ews_request_the_provider_sends_validates_against_the_schema() {
    let stack = ews_stack(demo::EWS_PASSWORD).await;
    ask(&stack.api, "onprem", &format!("mailboxes={PEOPLE}&{WEEK}")).await;
    ask(
        &stack.api,
        "onprem",
        &format!("mailboxes=o'brien%26co@contoso.com,room.adams@contoso.com&{WEEK}&details=true"),
    )
    .await;
    let requests = stack.emulator.ews_requests();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        xmllint(&body_element(request)).await.unwrap_or_else(|e| panic!("request fails messages.xsd: {e}\n{request}"));
    }
    assert!(requests[1].contains("<t:RequestedView>Detailed</t:RequestedView>"));
    assert!(requests[0].contains(r#"<t:RequestServerVersion Version="Exchange2013"/>"#));
}

#[tokio::test]
async fn the_emulators_ews_responses_validate_against_the_schema() {
    let stack = ews_stack(demo::EWS_PASSWORD).await;
    ask(&stack.api, "onprem", &format!("mailboxes={PEOPLE}&{WEEK}&details=true")).await;
    let request = stack.emulator.ews_requests().pop().unwrap();
    // Replay the provider's request with a merged view too, and validate what comes back.
    for view in ["Detailed", "DetailedMerged", "FreeBusy", "MergedOnly"] {
        let body = request.replace(
            "<t:RequestedView>Detailed</t:RequestedView>",
            &format!("<t:RequestedView>{view}</t:RequestedView>"),
        );
        let resp = reqwest::Client::new()
            .post(format!("{}/EWS/Exchange.asmx", stack.emulator.base_url))
            .basic_auth(demo::EWS_USER, Some(demo::EWS_PASSWORD))
            .header("content-type", "text/xml; charset=utf-8")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let text = resp.text().await.unwrap();
        let start = text.find("<GetUserAvailabilityResponse").unwrap();
        let end = text.find("</GetUserAvailabilityResponse>").unwrap() + "</GetUserAvailabilityResponse>".len();
        xmllint(&text[start..end]).await.unwrap_or_else(|e| panic!("{view} response fails messages.xsd: {e}\n{text}"));
        if view.contains("Merged") {
            assert!(text.contains("<MergedFreeBusy"), "{view}");
        }
    }
}

#[tokio::test]
async fn an_invalid_request_gets_a_schema_validation_fault_as_exchange_does() {
    let stack = ews_stack(demo::EWS_PASSWORD).await;
    let bad = r#"<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"><soap:Body><m:GetUserAvailabilityRequest><m:MailboxDataArray><t:MailboxData><t:Email><t:Address>a@contoso.com</t:Address></t:Email><t:AttendeeType>Boss</t:AttendeeType></t:MailboxData></m:MailboxDataArray></m:GetUserAvailabilityRequest></soap:Body></soap:Envelope>"#;
    let resp = reqwest::Client::new()
        .post(format!("{}/EWS/Exchange.asmx", stack.emulator.base_url))
        .basic_auth(demo::EWS_USER, Some(demo::EWS_PASSWORD))
        .body(bad)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 500);
    let text = resp.text().await.unwrap();
    assert!(text.contains("ErrorSchemaValidation") && text.contains("Boss"), "{text}");
}

#[tokio::test]
async fn server_busy_is_retried_after_back_off_milliseconds() {
    let stack = ews_stack(demo::EWS_PASSWORD).await;
    stack.emulator.inject(Fault::EwsServerBusy { back_off_ms: 250 });
    let started = std::time::Instant::now();
    let resp = ask(&stack.api, "onprem", &format!("mailboxes=room.adams@contoso.com&{WEEK}")).await;
    assert!(started.elapsed() >= std::time::Duration::from_millis(250));
    assert_eq!(resp.mailboxes[0].busy.as_ref().unwrap().len(), 3);
    assert_eq!(stack.emulator.stats().ews_requests, 2);
}

#[tokio::test]
async fn a_wrong_password_is_an_auth_failure_and_never_retried() {
    let stack = ews_stack("Summer2026!").await;
    let resp =
        ask(&stack.api, "onprem", &format!("mailboxes=room.adams@contoso.com,adele.vance@contoso.com&{WEEK}")).await;
    let err = resp.mailboxes[0].error.as_ref().unwrap();
    assert_eq!(err.code, freebusy_core::ErrorCode::AuthFailed);
    assert!(err.message.contains("401") && err.message.contains("locked"), "{}", err.message);
    assert!(!err.message.contains("Summer2026!"));
    assert_eq!(stack.emulator.stats().ews_requests, 1, "a rejected password must not be retried");
}

#[tokio::test]
async fn a_tenant_with_ews_switched_off_is_told_to_use_graph() {
    let mut tenant = demo::tenant();
    tenant.ews_enabled = false;
    let stack = ews_stack_for(tenant, demo::EWS_PASSWORD).await;
    let resp = ask(&stack.api, "onprem", &format!("mailboxes=room.adams@contoso.com&{WEEK}")).await;
    let err = resp.mailboxes[0].error.as_ref().unwrap();
    assert_eq!(err.code, freebusy_core::ErrorCode::Unsupported);
    assert!(err.message.contains("403") && err.message.contains("Graph provider"), "{}", err.message);
}

#[tokio::test]
async fn oauth_app_only_impersonates_a_mailbox() {
    let stack = start_with(validating_options(), RuntimeSettings::default(), |url| {
        format!(
            r#"{}
[tenants.exo]
provider = "ews"
[tenants.exo.settings]
ews_url = "{url}/EWS/Exchange.asmx"
auth = "oauth"
tenant_id = "{tenant}"
client_id = "{client}"
client_secret = "{secret}"
authority = "{url}"
"#,
            graph_tenant("contoso", url, demo::CLIENT_ID, demo::CLIENT_SECRET),
            tenant = demo::TENANT_ID,
            client = demo::CLIENT_ID,
            secret = demo::CLIENT_SECRET,
        )
    })
    .await;
    let resp =
        ask(&stack.api, "exo", &format!("mailboxes=room.adams@contoso.com,megan.bowen@contoso.com&{WEEK}")).await;
    assert_eq!(resp.mailboxes[0].busy.as_ref().unwrap().len(), 3, "{:?}", resp.mailboxes[0].error);
    let request = stack.emulator.ews_requests().pop().unwrap();
    assert!(
        request.contains(
            "<t:ExchangeImpersonation><t:ConnectingSID><t:SmtpAddress>room.adams@contoso.com</t:SmtpAddress>"
        ),
        "{request}"
    );
    ask(&stack.api, "exo", &format!("mailboxes=room.adams@contoso.com&{WEEK}")).await;
    assert_eq!(stack.emulator.stats().token_requests, 1, "the Exchange token is cached like Graph's");
}

#[tokio::test]
async fn a_window_longer_than_the_servers_42_days_is_split_inside_the_provider() {
    let stack = ews_stack(demo::EWS_PASSWORD).await;
    let resp = ask(
        &stack.api,
        "onprem",
        "mailboxes=room.adams@contoso.com&start=2026-02-01T00:00:00Z&end=2026-04-01T00:00:00Z",
    )
    .await;
    // 59 days: one host call (EWS takes 62), two EWS requests (42 + 17 days).
    assert_eq!(stack.emulator.stats().ews_requests, 2);
    let busy = resp.mailboxes[0].busy.as_ref().unwrap();
    // Mondays 2 Feb .. 30 Mar (9) and the workshop.
    assert_eq!(busy.len(), 10, "{busy:?}");
}

#[tokio::test]
async fn an_html_error_page_is_unavailable_not_a_panic_and_not_free() {
    let stack = ews_stack(demo::EWS_PASSWORD).await;
    stack.emulator.inject(Fault::EwsHtmlPage { status: 200 });
    let resp = ask(&stack.api, "onprem", &format!("mailboxes=room.adams@contoso.com&{WEEK}")).await;
    let err = resp.mailboxes[0].error.as_ref().unwrap_or_else(|| panic!("an error, got {:?}", resp.mailboxes[0]));
    assert_eq!(err.code, freebusy_core::ErrorCode::Unavailable);
    assert!(err.message.contains("unreadable"), "{}", err.message);
    // The next request is served normally.
    let resp = ask(&stack.api, "onprem", &format!("mailboxes=room.adams@contoso.com&{WEEK}")).await;
    assert_eq!(resp.mailboxes[0].busy.as_ref().map(Vec::len), Some(3));
}

#[tokio::test]
async fn a_truncated_answer_is_unavailable_not_a_panic_and_not_free() {
    let stack = ews_stack(demo::EWS_PASSWORD).await;
    stack.emulator.inject(Fault::EwsTruncated);
    let resp =
        ask(&stack.api, "onprem", &format!("mailboxes=room.adams@contoso.com,adele.vance@contoso.com&{WEEK}")).await;
    for m in &resp.mailboxes {
        let err = m.error.as_ref().unwrap_or_else(|| panic!("an error, got {m:?}"));
        assert_eq!(err.code, freebusy_core::ErrorCode::Unavailable);
        assert!(err.message.contains("unreadable"), "{}", err.message);
        assert!(m.busy.is_none());
    }
}

#[tokio::test]
async fn a_mailbox_without_free_busy_access_is_access_denied_and_the_rest_are_answered() {
    let mut tenant = demo::tenant();
    tenant.mailboxes.iter_mut().find(|m| m.address.starts_with("lee.gu")).unwrap().share_free_busy = false;
    let stack = ews_stack_for(tenant, demo::EWS_PASSWORD).await;
    let resp = ask(&stack.api, "onprem", &format!("mailboxes=lee.gu@contoso.com,room.adams@contoso.com&{WEEK}")).await;
    let err = resp.mailboxes[0].error.as_ref().unwrap();
    assert_eq!(err.code, freebusy_core::ErrorCode::AccessDenied);
    assert!(err.message.contains("ErrorNoFreeBusyAccess"));
    assert_eq!(resp.mailboxes[1].busy.as_ref().map(Vec::len), Some(3));
}

#[tokio::test]
async fn a_63_day_window_on_premises_costs_two_ews_calls_not_three() {
    // On-premises Exchange takes 42 days per call by default (the provider's max_window_days);
    // the host splits at that too, instead of at 62 and then again inside the provider.
    let stack = ews_stack(demo::EWS_PASSWORD).await;
    let query = "mailboxes=adele.vance@contoso.com&start=2026-02-01T00:00:00Z&end=2026-04-05T00:00:00Z";
    let before = stack.emulator.stats().ews_requests;
    let r = ask(&stack.api, "onprem", query).await;
    assert!(r.mailboxes[0].busy.is_some(), "{:?}", r.mailboxes[0].error);
    assert_eq!(stack.emulator.stats().ews_requests - before, 2, "ceil(63 / 42) calls");
}
