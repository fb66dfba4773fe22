"""Notifications beyond the socket: Web Push, email, SMS, per-user preferences and quiet hours.

`dispatch` fans stored notifications out to channels and sends them (run by the worker);
`preferences` holds the per-user choices; `webpush`, `email` and `sms` are the senders.
"""
