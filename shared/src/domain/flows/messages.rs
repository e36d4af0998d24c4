//! The Cloud API message bodies a flow sends (without `to` and `messaging_product`, which the
//! outbound use case adds): text, media, template, reply buttons and lists.

use serde_json::{json, Map, Value};

use super::definition::{Media, MenuStep, MenuStyle, TemplateRef};

/// The list button's label when a list menu names none.
pub const DEFAULT_LIST_BUTTON: &str = "Options";

/// A text message.
#[must_use]
pub fn text(body: &str) -> Value {
    json!({"type": "text", "text": {"body": body}})
}

/// A media message by id or link, with its caption and (documents) file name.
#[must_use]
pub fn media(media: &Media) -> Value {
    let mut object = Map::new();
    if let Some(id) = &media.id {
        object.insert("id".into(), json!(id));
    } else if let Some(link) = &media.link {
        object.insert("link".into(), json!(link));
    }
    if let Some(caption) = &media.caption {
        object.insert("caption".into(), json!(caption));
    }
    if let Some(filename) = &media.filename {
        object.insert("filename".into(), json!(filename));
    }
    let kind = media.kind.as_str();
    json!({"type": kind, kind: Value::Object(object)})
}

/// A template message with its body parameters.
#[must_use]
pub fn template(template: &TemplateRef) -> Value {
    let mut inner = json!({"name": template.name, "language": {"code": template.language}});
    if !template.parameters.is_empty() {
        let parameters: Vec<Value> =
            template.parameters.iter().map(|p| json!({"type": "text", "text": p})).collect();
        inner["components"] = json!([{"type": "body", "parameters": parameters}]);
    }
    json!({"type": "template", "template": inner})
}

/// A menu as reply buttons or a one-section list.
#[must_use]
pub fn menu(menu: &MenuStep) -> Value {
    let action = match menu.style {
        MenuStyle::Buttons => {
            let buttons: Vec<Value> = menu
                .options
                .iter()
                .map(|o| json!({"type": "reply", "reply": {"id": o.id, "title": o.title}}))
                .collect();
            json!({"buttons": buttons})
        }
        MenuStyle::List => {
            let rows: Vec<Value> = menu
                .options
                .iter()
                .map(|o| {
                    let mut row = json!({"id": o.id, "title": o.title});
                    if let Some(description) = &o.description {
                        row["description"] = json!(description);
                    }
                    row
                })
                .collect();
            let mut section = json!({"rows": rows});
            if let Some(title) = &menu.section {
                section["title"] = json!(title);
            }
            json!({"button": menu.button.as_deref().unwrap_or(DEFAULT_LIST_BUTTON), "sections": [section]})
        }
    };
    let kind = match menu.style {
        MenuStyle::Buttons => "button",
        MenuStyle::List => "list",
    };
    let mut interactive = json!({"type": kind, "body": {"text": menu.text}, "action": action});
    if let Some(header) = &menu.header {
        interactive["header"] = json!({"type": "text", "text": header});
    }
    if let Some(footer) = &menu.footer {
        interactive["footer"] = json!({"text": footer});
    }
    json!({"type": "interactive", "interactive": interactive})
}
