//! The `webhook` Lambda: Meta's webhook callback behind API Gateway. Wiring only.

use lambda_http::{service_fn, Error, Request};
use shared::adapters::sqs::SqsQueue;
use shared::config::{aws_sdk_config, Env};
use webhook::{handle, Config, Deps};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = Config::from_env(&Env::process())?;
    let aws = aws_sdk_config().await;
    let queue = SqsQueue::new(aws_sdk_sqs::Client::new(&aws), config.inbound_queue_url.clone());
    let deps = Deps { config, queue };
    lambda_http::run(service_fn(|request: Request| async { Ok::<_, Error>(handle(request, &deps).await) }))
        .await
}
