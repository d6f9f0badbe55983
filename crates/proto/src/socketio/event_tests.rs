use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;

fn fast(text: &str) -> Option<EventPacket<'_>> {
    Packet::decode_event(text, &Limits::default())
}

fn list_text(args: &Args) -> String {
    let mut out = String::new();
    args.write_list(&mut out);
    out
}

#[test]
fn plain_events_keep_their_arguments_as_text() {
    let ev = fast(r#"2/admin,7["hello",1,"two",{"x":[true,null]}]"#).unwrap();
    assert_eq!(ev.nsp, "/admin");
    assert_eq!(ev.id, Some(7));
    assert_eq!(ev.event, "hello");
    assert_eq!(ev.args.len(), 3);
    assert!(ev.args.is_raw());
    assert_eq!(list_text(&ev.args), r#"1,"two",{"x":[true,null]}"#);
    assert_eq!(
        *ev.args,
        vec![json!(1), json!("two"), json!({"x": [true, null]})]
    );

    let ev = fast(r#"2["only"]"#).unwrap();
    assert_eq!((ev.nsp, ev.id, ev.event.as_str()), ("/", None, "only"));
    assert!(ev.args.is_empty());
    assert_eq!(list_text(&ev.args), "");

    // Escapes other than \u are kept as sent; the name is unescaped.
    let ev = fast(r#"2["a\"b",["]",","],"\n"]"#).unwrap();
    assert_eq!(ev.event, "a\"b");
    assert_eq!(ev.args.len(), 2);
    assert_eq!(ev.args[0], json!(["]", ","]));
    assert_eq!(ev.args[1], json!("\n"));
}

#[test]
fn declines_what_it_cannot_vouch_for() {
    for text in [
        // other kinds, binary, no payload
        r#"3["a"]"#,
        r#"51-["a",{"_placeholder":true,"num":0}]"#,
        "2",
        // numbers that re-encode differently, or may not fit
        r#"2["a",1.5]"#,
        r#"2["a",1e3]"#,
        r#"2["a",2E0]"#,
        r#"2["a",-0]"#,
        r#"2["a",1234567890123456789]"#,
        r#"2["a",-1234567890123456789]"#,
        // \u escapes (lone surrogates), deep nesting
        r#"2["a","\ud800"]"#,
        r#"2["a","\u00e9"]"#,
        &format!(r#"2["a",{}{}]"#, "[".repeat(65), "]".repeat(65)),
        // names: number, reserved, missing, not first
        r#"2[1,"a"]"#,
        r#"2["connect"]"#,
        "2[]",
        r#"2[{"a":1}]"#,
        // whitespace outside strings, escapes Node would not write back
        r#"2 ["a"]"#,
        r#"2["a"] "#,
        r#"2["a", 1]"#,
        "2[\"a\",{\"k\":\n1}]",
        r#"2["a","\/"]"#,
        // trailing bytes
        r#"2["a"]x"#,
        r#"2["a"]["b"]"#,
        // invalid JSON
        r#"2["a",]"#,
        r#"2["a",01]"#,
        r#"2["a",tru]"#,
        r#"2["a",{"k"}]"#,
        r#"2["a",{1:2}]"#,
        "2[\"a\",\"\u{1}\"]",
        r#"2["a","\x"]"#,
        r#"2["a"]]"#,
        r#"2["a"}"#,
        r#"2[[["a"]"#,
    ] {
        assert!(fast(text).is_none(), "{text}");
    }
    // Inside strings, digits, dots and exponents are text.
    let ev = fast(r#"2["e1.5",".","-0","1e3","12345678901234567890"]"#).unwrap();
    assert_eq!(ev.event, "e1.5");
    assert_eq!(ev.args.len(), 4);
    // `true`/`false` are not exponents; 18 digits, negative too, are fine.
    let ev = fast(r#"2["a",true,false,123456789012345678,-123456789012345678,[-10]]"#).unwrap();
    assert_eq!(
        *ev.args,
        vec![
            json!(true),
            json!(false),
            json!(123456789012345678u64),
            json!(-123456789012345678i64),
            json!([-10])
        ]
    );
}

/// JSON values from the shapes clients send, with the characters that
/// matter to the scanner (quotes, brackets, commas, escapes, digits,
/// dots, exponents) over-represented.
fn value() -> impl Strategy<Value = Value> {
    tree(prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1000i64..1000).prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[a-z\\[\\]{},:\"\\\\.e0-9 \\n\u{e9}\u{1F600}-]{0,12}".prop_map(Value::from),
    ])
}

/// Values the fast path must admit.
fn plain_value() -> impl Strategy<Value = Value> {
    tree(prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-999_999_999_999_999_999i64..999_999_999_999_999_999).prop_map(Value::from),
        "[a-z\\[\\]{},:\"\\\\.e0-9 \\n\u{e9}\u{1F600}/-]{0,12}".prop_map(Value::from),
    ])
}

/// Arrays and objects (keys with quotes, commas, brackets) of `leaf`s.
fn tree(leaf: impl Strategy<Value = Value> + 'static) -> impl Strategy<Value = Value> {
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec(("[a-z\",\\]]{0,4}", inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Spellings of the same JSON a client might send: compact, with
/// escaped slashes and non-ASCII, with exponents.
fn spelled(v: &Value, style: u8) -> String {
    let compact = v.to_string();
    match style % 3 {
        0 => compact,
        1 => compact.replace('/', "\\/"),
        _ => compact.replace("e+", "E"),
    }
}

proptest! {
    /// Whatever the fast path admits, the full decoder accepts as the same
    /// event with the same argument values, and the kept text parses to
    /// those values (what a receiver of the forwarded text sees).
    #[test]
    fn the_fast_path_agrees_with_the_decoder(
        name in "[a-z\"\\\\]{1,6}",
        args in prop::collection::vec(value(), 0..4),
        style in any::<u8>(),
        id in prop::option::of(0u64..1000),
        nsp in prop::option::of("/[a-z]{1,4}"),
    ) {
        let mut list = vec![Value::from(name)];
        list.extend(args);
        let mut text = String::from("2");
        if let Some(nsp) = &nsp {
            text.push_str(nsp);
            text.push(',');
        }
        if let Some(id) = id {
            text.push_str(&id.to_string());
        }
        text.push_str(&spelled(&Value::Array(list), style));
        check_exact(&text);
    }

    /// Plain JSON (no floats, short integers) takes the fast path.
    #[test]
    fn plain_json_takes_the_fast_path(
        args in prop::collection::vec(plain_value(), 0..4),
    ) {
        let mut list = vec![Value::from("ev")];
        list.extend(args);
        let text = format!("2{}", Value::Array(list));
        prop_assert!(fast(&text).is_some(), "{}", text);
        check_exact(&text);
    }

    /// Arbitrary text: the fast path never admits what the decoder rejects.
    #[test]
    fn the_fast_path_admits_no_invalid_text(body in "[\\[\\]{}\",:a-z0-9.e\\\\ -]{0,24}") {
        check(&format!("2{body}"));
        check(&format!("2[\"a\",{body}]"));
    }

    /// The same with the literals' letters, escapes' letters, `/` and
    /// control characters over-represented, inside and around strings.
    #[test]
    fn the_fast_path_admits_no_invalid_literal_or_string(
        body in "[\\[\\]{}\",:0-9\\\\/truefalsnbu\x01\x1f\x7f-]{0,24}"
    ) {
        check(&format!("2[\"a\",{body}]"));
        check(&format!("2[\"a\",\"{body}\"]"));
    }
}

/// [`check`], and the kept text is byte for byte what encoding the values
/// writes (the generated values have no duplicate keys).
fn check_exact(text: &str) {
    check(text);
    if let Some(ev) = fast(text) {
        let mut expected = String::new();
        crate::socketio::args::write_values(&mut expected, &ev.args);
        assert_eq!(list_text(&ev.args), expected, "{text}");
    }
}

fn check(text: &str) {
    let Some(ev) = fast(text) else { return };
    let full =
        Packet::decode(text, &Limits::default()).expect("fast path admitted an invalid packet");
    assert_eq!(full.kind, PacketKind::Event);
    assert_eq!(full.nsp, ev.nsp);
    assert_eq!(full.id, ev.id);
    let Some(Value::Array(mut items)) = full.data else {
        panic!("not a list")
    };
    assert_eq!(items.remove(0), Value::from(ev.event.as_str()));
    assert_eq!(ev.args.len(), items.len());
    // Single arguments, taken from the text (before anything parses it).
    for i in 0..=items.len() {
        let fresh = Packet::decode_event(text, &Limits::default()).unwrap().args;
        assert_eq!(
            fresh.str_at(i),
            items.get(i).and_then(Value::as_str),
            "{text} {i}"
        );
        let mut kept = fresh.clone();
        kept.keep(i);
        assert_eq!(
            *kept,
            items.get(i).cloned().into_iter().collect::<Vec<_>>(),
            "{text} {i}"
        );
    }
    let reparsed: Vec<Value> = serde_json::from_str(&format!("[{}]", list_text(&ev.args))).unwrap();
    assert_eq!(reparsed, items, "{text}");
    assert_eq!(*ev.args, items, "{text}");
}
