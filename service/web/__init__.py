"""Pages for people at the venue: the door kiosk and the organizer console."""
