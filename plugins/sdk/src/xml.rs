//! A small element tree over quick-xml's reader, for the XML protocols providers speak (EWS SOAP,
//! WebDAV and CalDAV). Servers differ in namespace prefixes (`m:`, `t:`, `D:`, default
//! namespaces) and no two of these vocabularies share a local name that matters, so elements are
//! matched by local name. Only with the `xml` feature.

use quick_xml::events::Event;
use quick_xml::Reader;

/// One element: local name, attributes (local names), text, children.
#[derive(Debug, Default, Clone)]
pub struct Node {
    /// Local name, without prefix.
    pub name: String,
    /// Attributes by local name, values unescaped.
    pub attrs: Vec<(String, String)>,
    /// The element's own text (entities and CDATA resolved), untrimmed.
    pub text: String,
    /// Child elements in document order.
    pub children: Vec<Node>,
}

impl Node {
    /// First child with this local name.
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child with this local name.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// Follow a path of local names.
    pub fn path(&self, names: &[&str]) -> Option<&Node> {
        names.iter().try_fold(self, |node, name| node.child(name))
    }

    /// Text of a descendant by path.
    pub fn text_at(&self, names: &[&str]) -> Option<&str> {
        self.path(names).map(|n| n.text.trim())
    }

    /// An attribute by local name.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

fn local(name: &[u8]) -> String {
    let name = String::from_utf8_lossy(name);
    name.rsplit(':').next().unwrap_or_default().to_string()
}

/// Deepest element nesting accepted. Real answers nest about ten deep; without a limit a hostile
/// server's `<a><a>...` a hundred thousand deep overflowed the stack when the tree was dropped.
pub const MAX_DEPTH: usize = 256;

/// Parse a document into its root element. Truncated or malformed XML, and nesting deeper than
/// [`MAX_DEPTH`], are errors.
pub fn parse(xml: &[u8]) -> Result<Node, String> {
    let mut reader = Reader::from_reader(xml);
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Node> = Vec::new();
    let mut buf = Vec::new();
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| format!("malformed XML at byte {}: {e}", reader.buffer_position()))?;
        match event {
            Event::Start(e) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(format!("XML nested deeper than {MAX_DEPTH} elements"));
                }
                stack.push(element(&e)?)
            }
            Event::Empty(e) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(format!("XML nested deeper than {MAX_DEPTH} elements"));
                }
                let node = element(&e)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => return Ok(node),
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    let text = t.decode().map_err(|e| format!("bad text: {e}"))?;
                    let unescaped = quick_xml::escape::unescape(&text).map_err(|e| format!("bad entity: {e}"))?;
                    top.text.push_str(&unescaped);
                }
            }
            Event::GeneralRef(r) => {
                if let Some(top) = stack.last_mut() {
                    let name = r.decode().map_err(|e| format!("bad entity: {e}"))?;
                    let reference = format!("&{name};");
                    let resolved = quick_xml::escape::unescape(&reference).map_err(|e| format!("bad entity: {e}"))?;
                    top.text.push_str(&resolved);
                }
            }
            Event::CData(c) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&String::from_utf8_lossy(&c));
                }
            }
            Event::End(_) => {
                let node = stack.pop().ok_or("unbalanced end tag")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => return Ok(node),
                }
            }
            Event::Eof => return Err(if stack.is_empty() { "empty document".into() } else { "truncated XML".into() }),
            _ => {}
        }
        buf.clear();
    }
}

fn element(e: &quick_xml::events::BytesStart) -> Result<Node, String> {
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|e| format!("bad attribute: {e}"))?;
        let value = a.unescape_value().map_err(|e| format!("bad attribute value: {e}"))?;
        attrs.push((local(a.key.as_ref()), value.into_owned()));
    }
    Ok(Node { name: local(e.name().as_ref()), attrs, ..Node::default() })
}

#[cfg(test)]
mod fuzz_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_by_local_name_and_unescapes() {
        let doc = br#"<s:Envelope xmlns:s="x"><s:Body><m:R a:ResponseClass="Error"><m:T>a &amp; b</m:T><Empty/></m:R></s:Body></s:Envelope>"#;
        let root = parse(doc).unwrap();
        let r = root.path(&["Body", "R"]).unwrap();
        assert_eq!(r.attr("ResponseClass"), Some("Error"));
        assert_eq!(r.text_at(&["T"]), Some("a & b"));
        assert!(r.child("Empty").is_some());
    }

    #[test]
    fn truncated_and_html_documents_are_errors() {
        assert!(parse(b"<a><b>text</b>").is_err());
        assert!(parse(b"<html><body><p>Service Unavailable</body></html>").is_err());
    }
}
