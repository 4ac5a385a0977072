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
    /// When the stream was created.
    origin: String,
    /// What the server said was left after the latest message.
    pending: Option<u64>,
    /// Fetches in a row that found nothing before any message arrived.
    empty_fetches: u32,
}

impl Drop for NatsBroker {
    fn drop(&mut self) {
        let _inside = self.runtime.enter();
        self.messages.take();
    }
}

impl NatsBroker {
    pub fn connect(stream: &Stream, after: u64, allow_gap: bool) -> Result<NatsBroker> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (messages, origin) = runtime.block_on(async {
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
            let info = handle
                .info()
                .await
                .map_err(|e| anyhow!("JetStream stream `{}`: {e}", stream.stream))?;
            let (first, last) = (info.state.first_sequence, info.state.last_sequence);
            let created = i64::try_from(info.created.unix_timestamp_nanos()).unwrap_or(i64::MAX);
            let origin = format!(
                "created {}",
                crate::time::format_ts_precise(chrono::DateTime::from_timestamp_nanos(created))
            );
            check_position(&stream.stream, after, first, last, allow_gap)?;
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
            let messages = consumer
                .messages()
                .await
                .map_err(|e| anyhow!("cannot consume `{}`: {e}", stream.stream))?;
            Ok::<_, anyhow::Error>((messages, origin))
        })?;
        Ok(NatsBroker {
            runtime,
            messages: Some(messages),
            origin,
            pending: None,
            empty_fetches: 0,
        })
    }
}

/// A stream whose sequences went backwards was recreated: resuming would skip
/// its events. Events removed (by retention) before they landed are lost
/// upstream; going on without them takes `allow_gap`.
fn check_position(name: &str, after: u64, first: u64, last: u64, allow_gap: bool) -> Result<()> {
    if after > last {
        return Err(anyhow!(
            "JetStream stream `{name}` ends at sequence {last}, before the {after} already landed: \
             it was deleted and created again. Land its events under a new source name, or drop the \
             source's table and its rows in _derived.stream_batches to start over"
        ));
    }
    if after > 0 && first > after + 1 && !allow_gap {
        return Err(anyhow!(
            "JetStream stream `{name}` starts at sequence {first}: sequences {}..={} were removed \
             before they landed. Load them from an archive with --replay-from, then pass --allow-gap \
             to go on from sequence {first}",
            after + 1,
            first - 1
        ));
    }
    Ok(())
}

impl Broker for NatsBroker {
    fn origin(&self) -> &str {
        &self.origin
    }

    fn fetch(&mut self, max: usize, wait: Duration) -> Result<Fetched> {
        let Some(messages) = self.messages.as_mut() else {
            return Err(anyhow!("the NATS consumer is closed"));
        };
        let pending = &mut self.pending;
        let empty_fetches = &mut self.empty_fetches;
        self.runtime.block_on(async {
            let mut out = Vec::new();
            let mut caught_up = false;
            let mut timeout = wait;
            while out.len() < max && !caught_up {
                let next = match tokio::time::timeout(timeout, messages.next()).await {
                    Err(_) => {
                        // Quiet is caught up only once the server said nothing
                        // was left, or it stayed quiet from the start.
                        *empty_fetches += u32::from(out.is_empty());
                        caught_up = out.is_empty()
                            && (*pending == Some(0) || (pending.is_none() && *empty_fetches >= 2));
                        break;
                    }
                    Ok(None) => return Err(anyhow!("the NATS consumer closed")),
                    Ok(Some(next)) => next.map_err(|e| anyhow!("NATS: {e}"))?,
                };
                let info = next.info().map_err(|e| anyhow!("NATS: {e}"))?;
                let (sequence, left) = (info.stream_sequence, info.pending);
                out.push(Message {
                    partition: next.subject.to_string(),
                    sequence,
                    payload: next.payload.to_vec(),
                });
                *pending = Some(left);
                caught_up = left == 0;
                timeout = LINGER;
            }
            Ok(Fetched {
                messages: out,
                caught_up,
            })
        })
    }
}
