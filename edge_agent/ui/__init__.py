"""The cashier UI: a Flask app on 127.0.0.1 with a JSON API under /api and touch-friendly pages."""
