use std::time::Duration;

use rmpv::Value;
use testkit::FluentReceiver;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn record(name: &str) -> Value {
    Value::Map(vec![
        (Value::from("event"), Value::from(name)),
        (Value::from("n"), Value::from(7)),
    ])
}

fn entry(name: &str) -> Value {
    Value::Array(vec![Value::from(1_700_000_000), record(name)])
}

fn encode(value: &Value) -> Vec<u8> {
    let mut bytes = Vec::new();
    rmpv::encode::write_value(&mut bytes, value).expect("encoding");
    bytes
}

#[tokio::test]
async fn decodes_message_forward_and_packed_forward_modes_and_acks_chunks() {
    let receiver = FluentReceiver::start().await;
    let mut stream = TcpStream::connect(("127.0.0.1", receiver.port()))
        .await
        .expect("connect");
    let chunk = |id: &str| Value::Map(vec![(Value::from("chunk"), Value::from(id))]);
    let message = Value::Array(vec![
        Value::from("t.message"),
        Value::from(1_700_000_000),
        record("one"),
        chunk("c1"),
    ]);
    let forward = Value::Array(vec![
        Value::from("t.forward"),
        Value::Array(vec![entry("two"), entry("three")]),
    ]);
    let packed: Vec<u8> = [entry("four"), entry("five")]
        .iter()
        .flat_map(encode)
        .collect();
    let packed_forward = Value::Array(vec![
        Value::from("t.packed"),
        Value::Binary(packed),
        chunk("c3"),
    ]);

    // Split a frame across writes: the receiver must wait for the rest.
    let bytes: Vec<u8> = [message, forward, packed_forward]
        .iter()
        .flat_map(encode)
        .collect();
    let (head, tail) = bytes.split_at(5);
    stream.write_all(head).await.expect("write");
    tokio::time::sleep(Duration::from_millis(50)).await;
    stream.write_all(tail).await.expect("write");

    let mut answers = Vec::new();
    while answers.len() < 2 {
        let mut buffer = [0_u8; 64];
        let read = stream.read(&mut buffer).await.expect("read an ack");
        let mut slice = &buffer[..read];
        while !slice.is_empty() {
            answers.push(rmpv::decode::read_value(&mut slice).expect("an ack"));
        }
    }
    let acks: Vec<_> = answers
        .iter()
        .map(|a| a["ack"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(acks, ["c1", "c3"]);

    receiver
        .wait_for(Duration::from_secs(5), |e| e.name() == "five")
        .await
        .expect("all decoded");
    let got: Vec<_> = receiver
        .events()
        .iter()
        .map(|e| (e.tag.clone(), e.name().to_owned(), e.record["n"].clone()))
        .collect();
    let expected = [
        ("t.message", "one"),
        ("t.forward", "two"),
        ("t.forward", "three"),
        ("t.packed", "four"),
        ("t.packed", "five"),
    ];
    let expected: Vec<_> = expected
        .iter()
        .map(|(t, n)| ((*t).to_owned(), (*n).to_owned(), serde_json::json!(7)))
        .collect();
    assert_eq!(got, expected);
}
