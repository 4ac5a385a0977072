//! NATS JetStream: an ordered consumer (ephemeral, no acks) that starts after
//! the position the warehouse holds. The position lives with the data, so the
//! broker keeps no consumer state for us.

use super::{Broker, Fetched, Message};
use crate::project::Stream;
use anyhow::{anyhow, Result};
use async_nats::jetstream::consumer::pull::{Ordered, OrderedConfig};
use async_nats::jetstream::consumer::DeliverPolicy;
use futures::StreamExt;
use std::time::Duration;

/// How long a batch waits for more messages once the first has arrived.
const LINGER: Duration = Duration::from_millis(20);

pub struct NatsBroker {
    runtime: tokio::runtime::Runtime,
    /// Taken out only when dropped: it must be dropped inside the runtime.
    messages: Option<Ordered>,
}

impl Drop for NatsBroker {
    fn drop(&mut self) {
        let _inside = self.runtime.enter();
        self.messages.take();
    }
}

impl NatsBroker {
    pub fn connect(stream: &Stream, after: u64) -> Result<NatsBroker> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let messages = runtime.block_on(async {
            let client = async_nats::ConnectOptions::new()
                .connection_timeout(Duration::from_secs(5))
                .connect(stream.url.as_str())
                .await
                .map_err(|e| anyhow!("cannot connect to NATS at {}: {e}", stream.url))?;
            let jetstream = async_nats::jetstream::new(client);
            let mut handle = jetstream.get_stream(&stream.stream).await.map_err(|e| {
                anyhow!(
                    "JetStream stream `{}` at {}: {e}; create it (e.g. `nats stream add {}`) or fix `stream:`",
                    stream.stream,
                    stream.url,
                    stream.stream
                )
            })?;
            let state = handle
                .info()
                .await
                .map_err(|e| anyhow!("JetStream stream `{}`: {e}", stream.stream))?
                .state
                .clone();
            check_position(&stream.stream, after, state.first_sequence, state.last_sequence)?;
            let deliver_policy = match after {
                0 => DeliverPolicy::All,
                n => DeliverPolicy::ByStartSequence {
                    start_sequence: n + 1,
                },
            };
            // One subject is filtered by the server; several are filtered as
            // they arrive (servers before 2.10 take one filter only).
            let filter_subject = match stream.subjects.as_slice() {
                [one] => one.clone(),
                _ => String::new(),
            };
            let consumer = handle
                .create_consumer(OrderedConfig {
                    deliver_policy,
                    filter_subject,
                    ..OrderedConfig::default()
                })
                .await
                .map_err(|e| anyhow!("cannot consume `{}`: {e}", stream.stream))?;
            consumer
                .messages()
                .await
                .map_err(|e| anyhow!("cannot consume `{}`: {e}", stream.stream))
        })?;
        Ok(NatsBroker {
            runtime,
            messages: Some(messages),
        })
    }
}

/// A stream whose sequences went backwards was recreated: resuming would skip
/// its events, so stop. Events removed before they landed (retention) are lost
/// upstream: say so, they can only come back from an archive.
fn check_position(name: &str, after: u64, first: u64, last: u64) -> Result<()> {
    if after > last {
        return Err(anyhow!(
            "JetStream stream `{name}` ends at sequence {last}, before the {after} already landed: \
             it was recreated or purged. Land its events under a new source name, or drop the \
             source's table and its rows in _derived.stream_batches to start over"
        ));
    }
    if after > 0 && first > after + 1 {
        eprintln!(
            "warning: JetStream stream `{name}` starts at sequence {first}: sequences {}..{} were \
             removed before they landed; replay them from an archive with --replay-from",
            after + 1,
            first - 1
        );
    }
    Ok(())
}

impl Broker for NatsBroker {
    fn fetch(&mut self, max: usize, wait: Duration) -> Result<Fetched> {
        let Some(messages) = self.messages.as_mut() else {
            return Err(anyhow!("the NATS consumer is closed"));
        };
        self.runtime.block_on(async {
            let mut out = Vec::new();
            let mut caught_up = false;
            let mut timeout = wait;
            while out.len() < max && !caught_up {
                let next = match tokio::time::timeout(timeout, messages.next()).await {
                    Err(_) => {
                        caught_up = out.is_empty();
                        break;
                    }
                    Ok(None) => return Err(anyhow!("the NATS consumer closed")),
                    Ok(Some(next)) => next.map_err(|e| anyhow!("NATS: {e}"))?,
                };
                let info = next.info().map_err(|e| anyhow!("NATS: {e}"))?;
                let (sequence, pending) = (info.stream_sequence, info.pending);
                out.push(Message {
                    partition: next.subject.to_string(),
                    sequence,
                    payload: next.payload.to_vec(),
                });
                caught_up = pending == 0;
                timeout = LINGER;
            }
            Ok(Fetched {
                messages: out,
                caught_up,
            })
        })
    }
}
