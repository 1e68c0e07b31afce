//! String operators.

use bson::doc;

use super::*;

#[test]
fn concat_is_null_when_any_part_is_null() {
    let d = doc! { "first": "Ada", "n": Bson::Null };
    assert_eq!(
        value(bson!({ "$concat": ["$first", " ", "Lovelace"] }), &d),
        bson!("Ada Lovelace")
    );
    assert_eq!(value(bson!({ "$concat": [] }), &d), bson!(""));
    assert_eq!(
        value(bson!({ "$concat": ["$first", "$n"] }), &d),
        Bson::Null
    );
    assert_eq!(
        value(bson!({ "$concat": ["$first", "$nope"] }), &d),
        Bson::Null
    );
    assert_error(
        bson!({ "$concat": ["$first", 1] }),
        &d,
        "TypeMismatch",
        "$concat only supports strings, not int",
    );
}

#[test]
fn substrings_count_code_points_or_bytes() {
    let d = doc! { "s": "héllo" };
    assert_eq!(
        value(bson!({ "$substrCP": ["$s", 1, 3] }), &d),
        bson!("éll")
    );
    assert_eq!(
        value(bson!({ "$substrCP": ["$s", 3, 100] }), &d),
        bson!("lo")
    );
    assert_eq!(value(bson!({ "$substrCP": ["$s", 10, 2] }), &d), bson!(""));
    assert_eq!(
        value(bson!({ "$substrBytes": ["$s", 1, 2] }), &d),
        bson!("é")
    );
    assert_eq!(
        value(bson!({ "$substr": ["abcdef", 2, -1] }), &d),
        bson!("cdef")
    );
    assert_error(
        bson!({ "$substrBytes": ["$s", 2, 1] }),
        &d,
        "BadValue",
        "UTF-8",
    );
    assert_error(
        bson!({ "$substrCP": ["$s", -1, 1] }),
        &d,
        "BadValue",
        "$substrCP",
    );
    // null and missing are the empty string; numbers are formatted.
    assert_eq!(
        value(bson!({ "$substrCP": ["$nope", 0, 2] }), &d),
        bson!("")
    );
    assert_eq!(
        value(bson!({ "$substrCP": [12345, 1, 2] }), &d),
        bson!("23")
    );
    assert_eq!(value(bson!({ "$strLenCP": "$s" }), &d), bson!(5));
    assert_eq!(value(bson!({ "$strLenBytes": "$s" }), &d), bson!(6));
    assert_error(
        bson!({ "$strLenCP": "$nope" }),
        &d,
        "TypeMismatch",
        "$strLenCP requires a string argument, found: missing",
    );
}

#[test]
fn case_and_comparison() {
    assert_eq!(constant(bson!({ "$toUpper": "abc" })), bson!("ABC"));
    assert_eq!(constant(bson!({ "$toLower": "ABC-1" })), bson!("abc-1"));
    assert_eq!(constant(bson!({ "$toLower": Bson::Null })), bson!(""));
    assert_eq!(constant(bson!({ "$toUpper": 5 })), bson!("5"));
    assert_eq!(constant(bson!({ "$strcasecmp": ["ABC", "abc"] })), bson!(0));
    assert_eq!(constant(bson!({ "$strcasecmp": ["a", "B"] })), bson!(-1));
    assert_eq!(constant(bson!({ "$strcasecmp": ["b", "A"] })), bson!(1));
}

#[test]
fn split() {
    let d = doc! { "s": "a,b,,c", "n": Bson::Null };
    assert_eq!(
        value(bson!({ "$split": ["$s", ","] }), &d),
        bson!(["a", "b", "", "c"])
    );
    assert_eq!(
        value(bson!({ "$split": ["astronomical", "astro"] }), &d),
        bson!(["", "nomical"])
    );
    assert_eq!(
        value(bson!({ "$split": ["pea green boat", "owl"] }), &d),
        bson!(["pea green boat"])
    );
    assert_eq!(value(bson!({ "$split": ["", "a"] }), &d), bson!([""]));
    // Null or missing, on either side, gives null.
    assert_eq!(value(bson!({ "$split": ["$n", ","] }), &d), Bson::Null);
    assert_eq!(value(bson!({ "$split": ["$s", "$n"] }), &d), Bson::Null);
    assert_eq!(value(bson!({ "$split": ["$s", "$nope"] }), &d), Bson::Null);
    assert_error(
        bson!({ "$split": ["$s", ""] }),
        &d,
        "BadValue",
        "non-empty separator",
    );
    assert_error(bson!({ "$split": ["$s", 7] }), &d, "TypeMismatch", "$split");
    assert_error(bson!({ "$split": [1, ","] }), &d, "TypeMismatch", "$split");
}

#[test]
fn trim_with_and_without_chars() {
    assert_eq!(
        constant(bson!({ "$trim": { "input": "  \t hi there \n" } })),
        bson!("hi there")
    );
    assert_eq!(
        constant(bson!({ "$ltrim": { "input": "  hi  " } })),
        bson!("hi  ")
    );
    assert_eq!(
        constant(bson!({ "$rtrim": { "input": "  hi  " } })),
        bson!("  hi")
    );
    assert_eq!(
        constant(bson!({ "$trim": { "input": "ggabcgg", "chars": "gb" } })),
        bson!("abc")
    );
    assert_eq!(
        constant(bson!({ "$ltrim": { "input": "xxhixx", "chars": "x" } })),
        bson!("hixx")
    );
    assert_eq!(
        constant(bson!({ "$trim": { "input": Bson::Null } })),
        Bson::Null
    );
    assert_eq!(
        constant(bson!({ "$trim": { "input": "x", "chars": Bson::Null } })),
        Bson::Null
    );
    assert_error(
        bson!({ "$trim": { "input": 5 } }),
        &Document::new(),
        "TypeMismatch",
        "$trim",
    );
    assert_error(
        bson!({ "$trim": { "chars": "x" } }),
        &Document::new(),
        "FailedToParse",
        "input",
    );
}

#[test]
fn index_of_code_points_and_bytes() {
    assert_eq!(constant(bson!({ "$indexOfCP": ["héllo", "l"] })), bson!(2));
    assert_eq!(
        constant(bson!({ "$indexOfBytes": ["héllo", "l"] })),
        bson!(3)
    );
    assert_eq!(constant(bson!({ "$indexOfCP": ["abc", "d"] })), bson!(-1));
    assert_eq!(
        constant(bson!({ "$indexOfCP": ["abcabc", "b", 2] })),
        bson!(4)
    );
    assert_eq!(
        constant(bson!({ "$indexOfCP": ["abcabc", "b", 2, 4] })),
        bson!(-1)
    );
    assert_eq!(
        constant(bson!({ "$indexOfBytes": ["abcbabc", "b", 2, 4] })),
        bson!(3)
    );
    assert_eq!(
        constant(bson!({ "$indexOfBytes": ["abc", "b", 3] })),
        bson!(-1)
    );
    // The empty substring is found at the starting index.
    assert_eq!(constant(bson!({ "$indexOfBytes": ["", ""] })), bson!(0));
    assert_eq!(
        constant(bson!({ "$indexOfBytes": ["abc", "", 3] })),
        bson!(3)
    );
    assert_eq!(constant(bson!({ "$indexOfCP": ["abc", "", 1] })), bson!(1));
    assert_eq!(
        constant(bson!({ "$indexOfCP": [Bson::Null, "a"] })),
        Bson::Null
    );
    assert_error(
        bson!({ "$indexOfCP": ["abc", "b", -1] }),
        &Document::new(),
        "BadValue",
        "non-negative",
    );
    assert_error(
        bson!({ "$indexOfBytes": ["abc", 3] }),
        &Document::new(),
        "TypeMismatch",
        "$indexOfBytes",
    );
}

#[test]
fn regex_match() {
    let d = doc! { "s": "Hello World" };
    assert_eq!(
        value(
            bson!({ "$regexMatch": { "input": "$s", "regex": "^hello" } }),
            &d
        ),
        bson!(false)
    );
    assert_eq!(
        value(
            bson!({ "$regexMatch": { "input": "$s", "regex": "^hello", "options": "i" } }),
            &d
        ),
        bson!(true)
    );
    let re = Bson::RegularExpression(bson::Regex {
        pattern: "wor".try_into().unwrap(),
        options: "i".try_into().unwrap(),
    });
    assert_eq!(
        value(
            bson!({ "$regexMatch": { "input": "$s", "regex": (re) } }),
            &d
        ),
        bson!(true)
    );
    // Null or missing input does not match.
    assert_eq!(
        value(
            bson!({ "$regexMatch": { "input": "$nope", "regex": "x" } }),
            &d
        ),
        bson!(false)
    );
    assert_error(
        bson!({ "$regexMatch": { "input": 5, "regex": "x" } }),
        &d,
        "TypeMismatch",
        "$regexMatch",
    );
}

#[test]
fn replace_one_and_all() {
    let d = doc! { "s": "a-b-c", "n": Bson::Null };
    assert_eq!(
        value(
            bson!({ "$replaceOne": { "input": "$s", "find": "-", "replacement": "+" } }),
            &d
        ),
        bson!("a+b-c")
    );
    assert_eq!(
        value(
            bson!({ "$replaceAll": { "input": "$s", "find": "-", "replacement": "+" } }),
            &d
        ),
        bson!("a+b+c")
    );
    assert_eq!(
        value(
            bson!({ "$replaceAll": {
                "input": "an antelope is an animal", "find": "an", "replacement": "",
            } }),
            &d
        ),
        bson!(" telope is  imal")
    );
    // An empty `find` matches at every position.
    assert_eq!(
        value(
            bson!({ "$replaceAll": { "input": "abc", "find": "", "replacement": "-" } }),
            &d
        ),
        bson!("-a-b-c-")
    );
    assert_eq!(
        value(
            bson!({ "$replaceAll": { "input": "", "find": "", "replacement": "foo" } }),
            &d
        ),
        bson!("foo")
    );
    assert_eq!(
        value(
            bson!({ "$replaceAll": { "input": "$s", "find": "x", "replacement": "y" } }),
            &d
        ),
        bson!("a-b-c")
    );
    // Any null or missing argument gives null …
    for args in [
        bson!({ "input": "$n", "find": "-", "replacement": "+" }),
        bson!({ "input": "$s", "find": "$nope", "replacement": "+" }),
        bson!({ "input": "$s", "find": "-", "replacement": "$n" }),
    ] {
        assert_eq!(
            value(bson!({ "$replaceAll": (args.clone()) }), &d),
            Bson::Null,
            "{args}"
        );
        assert_eq!(
            value(bson!({ "$replaceOne": (args.clone()) }), &d),
            Bson::Null,
            "{args}"
        );
    }
    // … but a wrong type is an error even next to a null.
    assert_error(
        bson!({ "$replaceAll": { "input": 5, "find": "$n", "replacement": "+" } }),
        &d,
        "TypeMismatch",
        "input",
    );
    assert_error(
        bson!({ "$replaceOne": { "input": "$n", "find": "-", "replacement": [1] } }),
        &d,
        "TypeMismatch",
        "replacement",
    );
}
