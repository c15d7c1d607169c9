//! A small XML element tree and its writer: two-space indentation, text
//! escaped, an element without content written as `<tag></tag>`.
use std::fmt::Write;

/// Escapes text and attribute values (`&`, `<`, `>`, `"`; attributes are
/// written in double quotes).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// One element: attributes, then text or child elements.
#[derive(Clone, Debug, PartialEq)]
pub struct El {
    pub tag: String,
    pub attrs: Vec<(String, String)>,
    pub text: Option<String>,
    pub children: Vec<El>,
}

impl El {
    pub fn new(tag: &str) -> Self {
        Self { tag: tag.into(), attrs: Vec::new(), text: None, children: Vec::new() }
    }

    /// `<tag>text</tag>`.
    pub fn text(tag: &str, text: impl ToString) -> Self {
        Self { text: Some(text.to_string()), ..Self::new(tag) }
    }

    pub fn attr(mut self, name: &str, value: impl ToString) -> Self {
        self.attrs.push((name.into(), value.to_string()));
        self
    }

    pub fn child(mut self, child: El) -> Self {
        self.children.push(child);
        self
    }

    /// A child `<tag>text</tag>`.
    pub fn leaf(self, tag: &str, text: impl ToString) -> Self {
        self.child(El::text(tag, text))
    }

    pub fn children(mut self, children: impl IntoIterator<Item = El>) -> Self {
        self.children.extend(children);
        self
    }

    fn write(&self, out: &mut String, depth: usize) {
        let indent = "  ".repeat(depth);
        let _ = write!(out, "{indent}<{}", self.tag);
        for (name, value) in &self.attrs {
            let _ = write!(out, " {name}=\"{}\"", escape(value));
        }
        out.push('>');
        match (&self.text, self.children.is_empty()) {
            (Some(text), _) => out.push_str(&escape(text)),
            (None, true) => {}
            (None, false) => {
                out.push('\n');
                for c in &self.children {
                    c.write(out, depth + 1);
                }
                out.push_str(&indent);
            }
        }
        let _ = writeln!(out, "</{}>", self.tag);
    }
}

/// The document: the XML declaration, then the root element.
pub fn document(root: &El) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    root.write(&mut out, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_attributes_are_escaped_and_nested_elements_indented() {
        let root = El::new("a").attr("n", "x\"<y>").leaf("b", "1 < 2 & 3").child(El::new("c"));
        let text = document(&root);
        assert_eq!(
            text,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a n=\"x&quot;&lt;y&gt;\">\n  \
             <b>1 &lt; 2 &amp; 3</b>\n  <c></c>\n</a>\n"
        );
    }
}
