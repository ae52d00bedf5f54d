//! The EWS transport shared by every operation: one SOAP POST with the connection's
//! authentication (Basic, or a bearer token renewed once after a 401, never a retried password),
//! and every way an answer can fail (HTTP statuses, SOAP faults, unreadable XML) mapped to a
//! provider error. Faults follow Learn "EWS throttling in Exchange" (ErrorServerBusy with
//! BackOffMilliseconds, as captured in ecederstrand/exchangelib tests/test_services.py).

use freebusy_provider_sdk::http::{self, Request};
use freebusy_provider_sdk::types::ProviderError;

use crate::{Auth, Connection};
use freebusy_provider_sdk::xml::{parse, Node};

/// POST one SOAP request and return the parsed envelope, or the call's error: HTTP statuses,
/// SOAP faults and unreadable answers are all mapped here, for every operation.
pub(crate) fn post(
    conn: &Connection,
    anchor: Option<&str>,
    operation: &str,
    body: Vec<u8>,
) -> Result<Node, ProviderError> {
    let action = format!("http://schemas.microsoft.com/exchange/services/2006/messages/{operation}");
    let mut retried_token = false;
    let resp = loop {
        let mut req = Request::new("POST", &conn.url)
            .header("soapaction", action.clone())
            .body("text/xml; charset=utf-8", body.clone());
        match &conn.auth {
            Auth::Basic { header } => req = req.header("authorization", header.clone()),
            Auth::AppOnly { credentials, .. } => {
                req = req.header("authorization", format!("Bearer {}", credentials.token()?));
                // App-only calls route by the impersonated mailbox (X-AnchorMailbox,
                // Learn "Authenticate an EWS application by using OAuth").
                if let Some(anchor) = anchor {
                    req = req.header("x-anchormailbox", anchor);
                }
            }
            Auth::Delegated { credentials } => {
                req = req.header("authorization", format!("Bearer {}", credentials.token()?))
            }
        }
        let resp = http::send(&req).map_err(|e| ProviderError::Unavailable(format!("EWS: {e}")))?;
        // A cached token can be revoked or expire early: one new token, never a loop. Basic
        // credentials are never retried (retries lock accounts).
        if resp.status == 401 && !retried_token {
            match &conn.auth {
                Auth::AppOnly { credentials, .. } => credentials.forget(),
                Auth::Delegated { credentials } => credentials.forget(),
                Auth::Basic { .. } => break resp,
            }
            retried_token = true;
            continue;
        }
        break resp;
    };
    match resp.status {
        200 | 500 => {}
        401 => {
            return Err(ProviderError::AuthFailed(match conn.auth {
                Auth::Basic { .. } => "Exchange rejected the service account's credentials (HTTP 401). Not retried, so the account is not locked out: check username and password, and that Basic authentication is enabled on the EWS virtual directory".into(),
                Auth::AppOnly { .. } => "Exchange rejected the access token (HTTP 401): check that the app has full_access_as_app with admin consent".into(),
                Auth::Delegated { .. } => "Exchange rejected the signed-in user's token (HTTP 401): check EWS.AccessAsUser.All consent, or sign in again with `freebusy login`".into(),
            }))
        }
        403 => {
            return Err(ProviderError::Unsupported(
                "Exchange refused EWS (HTTP 403): EWS is disabled for this organisation, user or app. Exchange Online blocks EWS from 1 October 2026 unless the app is on EWSAllowedAppIDs and switches it off on 1 April 2027; use the Graph provider there".into(),
            ))
        }
        429 | 503 => return Err(ProviderError::Throttled(http::retry_after_ms(resp.header("retry-after")))),
        status => return Err(ProviderError::Unavailable(format!("Exchange answered HTTP {status}"))),
    }
    let root = parse(&resp.body).map_err(|e| {
        ProviderError::Unavailable(format!("Exchange sent an unreadable answer (HTTP {}): {e}", resp.status))
    })?;
    let body =
        root.child("Body").ok_or_else(|| ProviderError::Unavailable("Exchange's answer has no SOAP Body".into()))?;
    if let Some(fault) = body.child("Fault") {
        return Err(fault_error(fault));
    }
    Ok(root)
}

/// A SOAP fault: ErrorServerBusy is throttling with BackOffMilliseconds; the rest is reported.
fn fault_error(fault: &Node) -> ProviderError {
    let code = fault
        .path(&["detail", "ResponseCode"])
        .map(|n| n.text.trim().to_string())
        .or_else(|| fault.text_at(&["faultcode"]).map(|c| c.rsplit(':').next().unwrap_or(c).to_string()))
        .unwrap_or_default();
    let message = fault.text_at(&["faultstring"]).unwrap_or("").to_string();
    if code == "ErrorServerBusy" {
        let back_off = fault
            .path(&["detail", "MessageXml"])
            .and_then(|x| x.all("Value").find(|v| v.attr("Name") == Some("BackOffMilliseconds")))
            .and_then(|v| v.text.trim().parse::<u32>().ok());
        return ProviderError::Throttled(back_off);
    }
    match code.as_str() {
        "ErrorTimeIntervalTooBig" => ProviderError::Misconfigured(format!("{code}: {message} (lower max_window_days)")),
        "ErrorImpersonateUserDenied" | "ErrorImpersonationDenied" | "ErrorAccessDenied" => {
            ProviderError::AuthFailed(format!("{code}: {message}"))
        }
        _ => ProviderError::Unavailable(format!("Exchange fault {code}: {message}")),
    }
}

#[cfg(test)]
mod fuzz_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_busy_fault_is_throttling_with_the_back_off() {
        // The fault body exchangelib captured (ecederstrand/exchangelib tests/test_services.py,
        // test_error_server_busy).
        let xml = br#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode xmlns:a="http://schemas.microsoft.com/exchange/services/2006/types">a:ErrorServerBusy</faultcode>
   <faultstring xml:lang="en-US">The server cannot service this request right now. Try again later.</faultstring>
   <detail><e:ResponseCode xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">ErrorServerBusy</e:ResponseCode>
    <e:Message xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">The server cannot service this request right now. Try again later.</e:Message>
    <t:MessageXml xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><t:Value Name="BackOffMilliseconds">297749</t:Value></t:MessageXml>
   </detail></s:Fault></s:Body></s:Envelope>"#;
        let root = parse(xml).unwrap();
        let fault = root.path(&["Body", "Fault"]).unwrap();
        assert!(matches!(fault_error(fault), ProviderError::Throttled(Some(297_749))));
    }
}
