//! A JetStream stream of its own per test on the machine's NATS server
//! (127.0.0.1:4222). A missing server fails the test loudly.

use async_nats::jetstream::{self, stream};

pub const URL: &str = "nats://127.0.0.1:4222";

/// A stream created for one test (subjects `<prefix>.>`), deleted when it ends.
pub struct Jet {
    runtime: tokio::runtime::Runtime,
    js: jetstream::Context,
    pub stream: String,
    pub prefix: String,
}

impl Jet {
    pub fn new(purpose: &str) -> Jet {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let id = format!("{purpose}_{}", std::process::id());
        let name = format!("DERIVED_{}", id.to_uppercase());
        let prefix = format!("derived.{id}");
        let js = runtime.block_on(async {
            let client = async_nats::connect(URL)
                .await
                .unwrap_or_else(|e| panic!("NATS JetStream must run on {URL}: {e}"));
            jetstream::new(client)
        });
        let jet = Jet {
            runtime,
            js,
            stream: name,
            prefix,
        };
        jet.recreate();
        jet
    }

    /// Deletes the stream (if any) and creates it empty.
    pub fn recreate(&self) {
        self.recreate_keeping(-1)
    }

    /// Deletes the stream and creates it empty, keeping at most `max_messages`
    /// (-1: all).
    pub fn recreate_keeping(&self, max_messages: i64) {
        self.runtime.block_on(async {
            let _ = self.js.delete_stream(&self.stream).await;
            self.js
                .create_stream(stream::Config {
                    name: self.stream.clone(),
                    subjects: vec![format!("{}.>", self.prefix)],
                    max_messages,
                    ..Default::default()
                })
                .await
                .unwrap_or_else(|e| panic!("cannot create stream {} on {URL}: {e}", self.stream));
        })
    }

    /// The subject of partition `n`.
    pub fn subject(&self, n: u64) -> String {
        format!("{}.p{n}", self.prefix)
    }

    /// Publishes each (subject, payload) in order, waiting for every ack.
    pub fn publish(&self, messages: &[(String, String)]) {
        self.runtime.block_on(async {
            for chunk in messages.chunks(2000) {
                let mut acks = Vec::with_capacity(chunk.len());
                for (subject, payload) in chunk {
                    acks.push(
                        self.js
                            .publish(subject.clone(), payload.clone().into())
                            .await
                            .unwrap(),
                    );
                }
                for ack in acks {
                    ack.await.unwrap();
                }
            }
        })
    }

    /// A source definition consuming this stream, four partitions, 30 s lateness.
    pub fn source_yaml(&self, name: &str) -> String {
        format!(
            "name: {name}
kind: source
description: Events landed from NATS JetStream.
stream:
  broker: nats
  url: {URL}
  stream: {stream}
  subjects: [\"{prefix}.>\"]
  partitions: 4
  event_id: event_id
  event_time: event_ts
  format: json
  lateness: 30s
columns:
  - {{name: event_id, type: VARCHAR}}
  - {{name: event_ts, type: TIMESTAMP}}
  - {{name: user_id, type: BIGINT}}
  - {{name: amount, type: BIGINT}}
",
            stream = self.stream,
            prefix = self.prefix
        )
    }
}

impl Drop for Jet {
    fn drop(&mut self) {
        let _ = self
            .runtime
            .block_on(async { self.js.delete_stream(&self.stream).await });
    }
}
