"""The API's routes, a router per resource: feeds, activities, follows, realtime, demo, health (probes)."""
