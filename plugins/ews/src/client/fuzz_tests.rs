//! Structured fuzzing of SOAP faults as `post` reads them (`fault_error`): arbitrary bytes and
//! the fault Exchange sends when it throttles (as exchangelib captured it), with its text edited
//! anywhere, never panic; a fault that reads as ErrorServerBusy is throttling (with the back-off
//! when it is a number), whatever else it holds.
//!
//! proptest rather than cargo-fuzz (which needs nightly sanitizers; this toolchain is stable):
//! see `core/src/fuzz_support.rs`. `scripts/fuzz` runs these with many more cases.

use freebusy_provider_sdk::types::ProviderError;
use freebusy_provider_sdk::xml::parse;
use proptest::prelude::*;

use super::fault_error;
use crate::fuzz_support::{apply, edits};

fn fault(code: &str, back_off: &str) -> String {
    format!(
        r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode xmlns:a="http://schemas.microsoft.com/exchange/services/2006/types">a:{code}</faultcode>
   <faultstring xml:lang="en-US">The server cannot service this request right now. Try again later.</faultstring>
   <detail><e:ResponseCode xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">{code}</e:ResponseCode>
    <e:Message xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">The server cannot service this request right now. Try again later.</e:Message>
    <t:MessageXml xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><t:Value Name="BackOffMilliseconds">{back_off}</t:Value></t:MessageXml>
   </detail></s:Fault></s:Body></s:Envelope>"#
    )
}

/// The fault's error, as `post` finds it, when the answer reads and has one.
fn error_of(body: &[u8]) -> Option<ProviderError> {
    let root = parse(body).ok()?;
    Some(fault_error(root.path(&["Body", "Fault"])?))
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = error_of(&body);
    }

    #[test]
    fn edited_faults_never_panic(edits in edits()) {
        let _ = error_of(&apply(fault("ErrorServerBusy", "297749").as_bytes(), &edits));
    }

    #[test]
    fn server_busy_is_throttling_whatever_the_back_off(
        back_off in prop_oneof![any::<u32>().prop_map(|n| n.to_string()), "[0-9]{10,30}", "-[0-9]{1,5}", any::<String>()],
        code in prop_oneof![Just("ErrorServerBusy".to_string()), Just("ErrorTimeIntervalTooBig".to_string()), "[A-Za-z]{0,20}"],
    ) {
        let text = back_off.replace('&', "&amp;").replace('<', "&lt;");
        let e = error_of(fault(&code, &text).as_bytes()).expect("the fault reads");
        if code == "ErrorServerBusy" {
            prop_assert!(matches!(e, ProviderError::Throttled(ms) if ms == back_off.trim().parse::<u32>().ok()), "{e:?}");
        } else {
            prop_assert!(!matches!(e, ProviderError::Throttled(_)), "{e:?}");
        }
    }
}
