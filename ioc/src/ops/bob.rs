//! Phoebus display files (`.bob`, display version 2.0.0) and the widgets
//! the generated screens use, with the type/version pairs Phoebus 4.7
//! writes. PV names are written `$(P)<name>`; the display's macro `P`
//! defaults to the twin's default prefix.
use super::xml::{El, document};

/// The default of the screens' macro `P` (the IOC's default prefix).
pub const DEFAULT_PREFIX: &str = "TWIN:";

/// Widget types and the versions Phoebus 4.7 writes them with.
pub const WIDGET_VERSIONS: [(&str, &str); 10] = [
    ("label", "2.0.0"),
    ("textupdate", "2.0.0"),
    ("textentry", "3.0.0"),
    ("action_button", "3.0.0"),
    ("led", "2.0.0"),
    ("xyplot", "3.0.0"),
    ("table", "2.0.0"),
    ("group", "2.0.0"),
    ("embedded", "2.0.0"),
    ("navtabs", "2.0.0"),
];

/// A PV name as the screens write it: `$(P)<name>`.
pub fn pv(name: &str) -> String {
    format!("$(P){name}")
}

/// Position and size of a widget [pixels]; inside a group, relative to it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rect {
    pub x: i32,
    pub y: i32,
    pub w: i32,
    pub h: i32,
}

pub const fn at(x: i32, y: i32, w: i32, h: i32) -> Rect {
    Rect { x, y, w, h }
}

/// An RGB colour.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rgb(pub u8, pub u8, pub u8);

pub const RED: Rgb = Rgb(255, 0, 0);
pub const GREEN: Rgb = Rgb(0, 200, 0);
pub const BLUE: Rgb = Rgb(0, 0, 255);
pub const DARK_GREEN: Rgb = Rgb(0, 128, 0);

fn color(tag: &str, c: Rgb) -> El {
    El::new(tag).child(El::new("color").attr("red", c.0).attr("green", c.1).attr("blue", c.2))
}

/// `<widget type=... version=...>` with its name and geometry.
pub fn widget(kind: &str, name: &str, r: Rect) -> El {
    let version = WIDGET_VERSIONS.iter().find(|(k, _)| *k == kind).map_or("2.0.0", |(_, v)| v);
    El::new("widget")
        .attr("type", kind)
        .attr("version", version)
        .leaf("name", name)
        .leaf("x", r.x)
        .leaf("y", r.y)
        .leaf("width", r.w)
        .leaf("height", r.h)
}

pub fn label(text: &str, r: Rect) -> El {
    widget("label", text, r).leaf("text", text)
}

/// A label in the bold header font.
pub fn heading(text: &str, r: Rect) -> El {
    let font = El::new("font")
        .attr("name", "Header 3")
        .attr("family", "Liberation Sans")
        .attr("style", "BOLD")
        .attr("size", "16.0");
    label(text, r).child(El::new("font").child(font))
}

/// Shows a PV's value (with its units and alarm border).
pub fn text_update(name: &str, pv_name: &str, r: Rect) -> El {
    widget("textupdate", name, r).leaf("pv_name", pv(pv_name))
}

/// A text update without units (a column header states them).
pub fn value(name: &str, pv_name: &str, r: Rect) -> El {
    text_update(name, pv_name, r).leaf("show_units", false)
}

/// Writes what the operator types to a PV.
pub fn text_entry(name: &str, pv_name: &str, r: Rect) -> El {
    widget("textentry", name, r).leaf("pv_name", pv(pv_name))
}

/// On (non-zero) and off colours of a PV's value.
pub fn led(name: &str, pv_name: &str, r: Rect, off: Rgb, on: Rgb) -> El {
    widget("led", name, r).leaf("pv_name", pv(pv_name)).child(color("off_color", off)).child(color("on_color", on))
}

/// A button writing `value` to a PV (named by its text and the PV).
pub fn write_button(text: &str, pv_name: &str, value: &str, r: Rect) -> El {
    let action = El::new("action")
        .attr("type", "write_pv")
        .leaf("description", text)
        .leaf("pv_name", pv(pv_name))
        .leaf("value", value);
    widget("action_button", &format!("{text} {pv_name}"), r)
        .leaf("pv_name", pv(pv_name))
        .leaf("text", text)
        .child(El::new("actions").child(action))
}

/// A button opening another display (a path relative to this one).
pub fn open_button(text: &str, file: &str, r: Rect) -> El {
    let action = El::new("action")
        .attr("type", "open_display")
        .leaf("description", text)
        .leaf("file", file)
        .leaf("target", "tab");
    widget("action_button", text, r).leaf("text", text).child(El::new("actions").child(action))
}

/// A trace of an XY plot: y (and its error) against x, waveform PVs.
#[derive(Clone, Debug)]
pub struct Trace {
    pub name: String,
    pub x_pv: String,
    pub y_pv: String,
    /// Error bars (trace type 3, points only) instead of a line.
    pub err_pv: Option<String>,
    pub color: Rgb,
}

impl Trace {
    pub fn line(name: &str, x_pv: &str, y_pv: &str, color: Rgb) -> Self {
        Self { name: name.into(), x_pv: x_pv.into(), y_pv: y_pv.into(), err_pv: None, color }
    }

    fn el(&self) -> El {
        // trace type 1: line, 3: error bars; point type 0: none, 2: circles
        let (trace_type, point_type, point_size) = if self.err_pv.is_some() { (3, 2, 6) } else { (1, 0, 10) };
        let err = match &self.err_pv {
            Some(e) => El::text("err_pv", pv(e)),
            None => El::new("err_pv"),
        };
        El::new("trace")
            .leaf("name", &self.name)
            .leaf("x_pv", pv(&self.x_pv))
            .leaf("y_pv", pv(&self.y_pv))
            .child(err)
            .leaf("axis", 0)
            .leaf("trace_type", trace_type)
            .child(color("color", self.color))
            .leaf("line_width", 1)
            .leaf("line_style", 0)
            .leaf("point_type", point_type)
            .leaf("point_size", point_size)
            .leaf("visible", true)
    }
}

fn axis(tag: &str, title: &str) -> El {
    El::new(tag)
        .leaf("title", title)
        .leaf("autoscale", true)
        .leaf("log_scale", false)
        .leaf("minimum", "0.0")
        .leaf("maximum", "100.0")
        .leaf("show_grid", true)
        .leaf("visible", true)
}

/// An XY plot of waveforms, both axes autoscaled.
pub fn xy_plot(name: &str, r: Rect, x_title: &str, y_title: &str, traces: &[Trace]) -> El {
    widget("xyplot", name, r)
        .leaf("title", name)
        .child(axis("x_axis", x_title))
        .child(El::new("y_axes").child(axis("y_axis", y_title)))
        .child(El::new("traces").children(traces.iter().map(Trace::el)))
}

/// A table showing a VTable PV (an NTTable over PV Access: `pva://`).
pub fn table(name: &str, pva_table: &str, r: Rect) -> El {
    widget("table", name, r).leaf("pv_name", format!("pva://{}", pv(pva_table))).leaf("editable", false)
}

/// A group box; the children's positions are relative to it.
pub fn group(name: &str, r: Rect, children: Vec<El>) -> El {
    widget("group", name, r).children(children)
}

/// A display: name, the default of macro `P`, size, widgets.
pub fn display(name: &str, width: i32, height: i32, widgets: Vec<El>) -> String {
    let root = El::new("display")
        .attr("version", "2.0.0")
        .leaf("name", name)
        .child(El::new("macros").leaf("P", DEFAULT_PREFIX))
        .leaf("width", width)
        .leaf("height", height)
        .children(widgets);
    document(&root)
}

/// A label and a text update of one PV in a row: (label width, value width).
pub fn labelled(text: &str, pv_name: &str, x: i32, y: i32, widths: (i32, i32)) -> [El; 2] {
    [label(text, at(x, y, widths.0, 20)), text_update(text, pv_name, at(x + widths.0 + 5, y, widths.1, 20))]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widgets_carry_phoebus_versions_and_prefixed_pvs() {
        let text = display("T", 100, 50, vec![write_button("Run", "A:run", "1", at(0, 0, 60, 20))]);
        assert!(text.contains("<display version=\"2.0.0\">\n  <name>T</name>\n  <macros>\n    <P>TWIN:</P>"), "{text}");
        assert!(text.contains("<widget type=\"action_button\" version=\"3.0.0\">"), "{text}");
        let action = "<action type=\"write_pv\">\n        <description>Run</description>\n        \
                      <pv_name>$(P)A:run</pv_name>\n        <value>1</value>\n      </action>";
        assert!(text.contains(action), "{text}");
    }

    #[test]
    fn a_trace_has_phoebus_children_and_an_empty_err_pv() {
        let t = Trace::line("x", "S", "X", BLUE).el();
        let tags: Vec<&str> = t.children.iter().map(|c| c.tag.as_str()).collect();
        assert_eq!(
            tags,
            [
                "name",
                "x_pv",
                "y_pv",
                "err_pv",
                "axis",
                "trace_type",
                "color",
                "line_width",
                "line_style",
                "point_type",
                "point_size",
                "visible"
            ]
        );
        assert_eq!(t.children[3].text, None);
    }
}
