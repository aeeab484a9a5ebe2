//! Connecting to the real backing services: waiting when they are away,
//! working when they are there.

mod events;
mod postgres;
mod rabbitmq;
mod serving;
