"""The one WebSocket per client at /ws/: the consumer and its routing. It sits above orders
(a claim frame calls `orders.services.order_claim`) and reads the outbox that notifications
keeps, so it is an app of its own (docs/design.md)."""
