//! Structured fuzzing of the XML element tree (`xml::parse`), which reads every EWS, WebDAV and
//! CalDAV answer: arbitrary bytes and markup soup never panic; seed answers (as the EWS, WebDAV
//! and CalDAV tests use them) edited anywhere never panic and, where they parse, give a tree
//! without prefixes and within the nesting limit; generated trees read back as written; a
//! document cut anywhere is an error; nesting a hundred thousand deep is an error, not a stack
//! overflow.
//!
//! proptest rather than cargo-fuzz (which needs nightly sanitizers; this toolchain is stable):
//! see `core/src/fuzz_support.rs`. `scripts/fuzz` runs these with many more cases.

use proptest::prelude::*;

use super::{parse, Node, MAX_DEPTH};
use crate::fuzz_support::{apply, cuts, edits, fragment};

/// Answers as the providers' unit tests and the servers they were captured from send them.
const SEEDS: &[&str] = &[
    r#"<s:Envelope xmlns:s="x"><s:Body><m:R a:ResponseClass="Error"><m:T>a &amp; b</m:T><Empty/></m:R></s:Body></s:Envelope>"#,
    r#"<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><h:ServerVersionInfo MajorVersion="15" MinorVersion="20" xmlns:h="http://schemas.microsoft.com/exchange/services/2006/types"/></s:Header>
<s:Body><GetUserAvailabilityResponse xmlns="http://schemas.microsoft.com/exchange/services/2006/messages"><FreeBusyResponseArray><FreeBusyResponse><ResponseMessage ResponseClass="Success"><ResponseCode>NoError</ResponseCode></ResponseMessage>
<FreeBusyView><FreeBusyViewType xmlns="http://schemas.microsoft.com/exchange/services/2006/types">Detailed</FreeBusyViewType><CalendarEventArray xmlns="http://schemas.microsoft.com/exchange/services/2006/types"><CalendarEvent><StartTime>2026-03-23T09:00:00</StartTime><EndTime>2026-03-23T10:00:00</EndTime><BusyType>Busy</BusyType><CalendarEventDetails><Subject>Plan &lt;Q2&gt; &#233;</Subject><IsPrivate>false</IsPrivate></CalendarEventDetails></CalendarEvent></CalendarEventArray></FreeBusyView></FreeBusyResponse></FreeBusyResponseArray></GetUserAvailabilityResponse></s:Body></s:Envelope>"#,
    r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode xmlns:a="http://schemas.microsoft.com/exchange/services/2006/types">a:ErrorServerBusy</faultcode>
   <faultstring xml:lang="en-US">The server cannot service this request right now. Try again later.</faultstring>
   <detail><e:ResponseCode xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">ErrorServerBusy</e:ResponseCode>
    <t:MessageXml xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><t:Value Name="BackOffMilliseconds">297749</t:Value></t:MessageXml>
   </detail></s:Fault></s:Body></s:Envelope>"#,
    r#"<?xml version='1.0' encoding='utf-8'?>
<multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><response><href>/alice%40contoso.com/</href><propstat><prop><C:calendar-home-set><href>/alice%40contoso.com/</href></C:calendar-home-set></prop><status>HTTP/1.1 200 OK</status></propstat><propstat><prop><C:schedule-outbox-URL /></prop><status>HTTP/1.1 404 Not Found</status></propstat></response></multistatus>"#,
    "<C:schedule-response xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\"><C:response><C:recipient><D:href>mailto:bob@example.com</D:href></C:recipient><C:request-status>2.0;Success</C:request-status><C:calendar-data><![CDATA[BEGIN:VCALENDAR\r\nBEGIN:VFREEBUSY\r\nFREEBUSY:20260323T090000Z/PT1H\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n]]></C:calendar-data></C:response></C:schedule-response>",
];

/// Names carry no prefix, and no element is nested deeper than the limit.
fn check_tree(node: &Node, depth: usize) -> Result<(), TestCaseError> {
    prop_assert!(depth <= MAX_DEPTH, "nested {depth} deep");
    prop_assert!(!node.name.contains(':'), "prefix left in {:?}", node.name);
    for (name, _) in &node.attrs {
        prop_assert!(!name.contains(':'), "prefix left in attribute {name:?}");
    }
    for child in &node.children {
        check_tree(child, depth + 1)?;
    }
    Ok(())
}

/// An element to write: prefix, local name, attributes (distinct names), text, CDATA or not.
#[derive(Debug, Clone)]
struct Tree {
    prefix: Option<String>,
    name: String,
    attrs: Vec<(String, String)>,
    text: String,
    cdata: bool,
    children: Vec<Tree>,
}

fn text_strategy() -> impl Strategy<Value = String> {
    // Any character XML allows in content (no controls but tab and newline; CR would be
    // normalized by a conforming parser, so it is left out of the round trip).
    "[^\\x00-\\x08\\x0B-\\x1F]{0,12}"
}

fn tree_strategy() -> impl Strategy<Value = Tree> {
    let name = "[A-Za-z_][A-Za-z0-9._-]{0,6}";
    let leaf = (
        proptest::option::of(name),
        name,
        proptest::collection::btree_map(name, text_strategy(), 0..3),
        text_strategy(),
        any::<bool>(),
    )
        .prop_map(|(prefix, name, attrs, text, cdata)| Tree {
            prefix,
            name,
            attrs: attrs.into_iter().collect(),
            text,
            cdata,
            children: Vec::new(),
        });
    leaf.prop_recursive(4, 32, 4, |inner| {
        (inner.clone(), proptest::collection::vec(inner, 0..4)).prop_map(|(mut t, children)| {
            t.children = children;
            t
        })
    })
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

fn write(t: &Tree, out: &mut String) {
    let qname = match &t.prefix {
        Some(p) => format!("{p}:{}", t.name),
        None => t.name.clone(),
    };
    out.push('<');
    out.push_str(&qname);
    for (k, v) in &t.attrs {
        out.push_str(&format!(" {k}=\"{}\"", escape(v)));
    }
    if t.text.is_empty() && t.children.is_empty() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    if t.cdata && !t.text.contains("]]>") {
        out.push_str(&format!("<![CDATA[{}]]>", t.text));
    } else {
        out.push_str(&escape(&t.text));
    }
    for c in &t.children {
        write(c, out);
    }
    out.push_str(&format!("</{qname}>"));
}

fn same(t: &Tree, n: &Node) -> Result<(), TestCaseError> {
    prop_assert_eq!(&n.name, &t.name);
    prop_assert_eq!(&n.attrs, &t.attrs);
    prop_assert_eq!(&n.text, &t.text);
    prop_assert_eq!(n.children.len(), t.children.len());
    for (tc, nc) in t.children.iter().zip(&n.children) {
        same(tc, nc)?;
    }
    Ok(())
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(root) = parse(&bytes) {
            check_tree(&root, 1)?;
        }
    }

    #[test]
    fn markup_soup_never_panics(parts in proptest::collection::vec(fragment(), 0..60)) {
        if let Ok(root) = parse(parts.concat().as_bytes()) {
            check_tree(&root, 1)?;
        }
    }

    #[test]
    fn edited_answers_never_panic(seed in proptest::sample::select(SEEDS), edits in edits()) {
        if let Ok(root) = parse(&apply(seed.as_bytes(), &edits)) {
            check_tree(&root, 1)?;
        }
    }

    #[test]
    fn written_trees_read_back_as_written(tree in tree_strategy(), decl in any::<bool>()) {
        let mut doc = if decl { "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n".to_string() } else { String::new() };
        write(&tree, &mut doc);
        let root = parse(doc.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e} in {doc}")))?;
        same(&tree, &root)?;
    }
}

#[test]
fn every_cut_of_an_answer_is_an_error() {
    for seed in SEEDS {
        assert!(parse(seed.as_bytes()).is_ok(), "seed does not parse: {seed}");
        for cut in cuts(seed) {
            assert!(parse(cut.as_bytes()).is_err(), "a document cut after {} bytes parsed: {cut}", cut.len());
        }
    }
}

#[test]
fn nesting_a_hundred_thousand_deep_is_an_error_not_a_stack_overflow() {
    let deep = format!("{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000));
    assert!(parse(deep.as_bytes()).unwrap_err().contains("nested"));
    let allowed = format!("{}{}", "<a>".repeat(MAX_DEPTH), "</a>".repeat(MAX_DEPTH));
    assert!(parse(allowed.as_bytes()).is_ok());
}
