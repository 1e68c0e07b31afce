//! Numeric operators: `$mod` and the bit tests.

use super::*;

#[test]
fn mod_operator() {
    let docs = vec![
        doc! {"_id": 1, "n": 7},
        doc! {"_id": 2, "n": 7.9},
        doc! {"_id": 3, "n": -7},
        doc! {"_id": 4, "n": "7"},
        doc! {"_id": 5, "n": [1, 4]},
    ];
    assert_eq!(ids(doc! {"n": {"$mod": [4, 3]}}, &docs), ["1", "2"]);
    assert_eq!(ids(doc! {"n": {"$mod": [4, -3]}}, &docs), ["3"]);
    assert_eq!(ids(doc! {"n": {"$mod": [4.5, 3.7]}}, &docs), ["1", "2"]);
    assert_eq!(ids(doc! {"n": {"$mod": [2, 0]}}, &docs), ["5"]);
}

#[test]
fn bit_operators() {
    let docs = vec![
        doc! {"_id": 1, "b": 54},
        doc! {"_id": 2, "b": 20},
        doc! {"_id": 3, "b": 20.5},
        doc! {"_id": 4, "b": "x"},
        doc! {"_id": 5, "b": -1},
    ];
    assert_eq!(ids(doc! {"b": {"$bitsAllSet": [1, 5]}}, &docs), ["1", "5"]);
    assert_eq!(ids(doc! {"b": {"$bitsAllSet": 20}}, &docs), ["1", "2", "5"]);
    assert_eq!(ids(doc! {"b": {"$bitsAnySet": [1, 3]}}, &docs), ["1", "5"]);
    assert_eq!(ids(doc! {"b": {"$bitsAllClear": [0, 1]}}, &docs), ["2"]);
    assert_eq!(ids(doc! {"b": {"$bitsAnyClear": [1, 4]}}, &docs), ["2"]);
}
