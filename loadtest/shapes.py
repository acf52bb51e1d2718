"""Locust LoadTestShape adapter for the pure schedules in loadtest.schedules."""

from __future__ import annotations

from locust import LoadTestShape

from loadtest.schedules import Schedule


class ScheduleShape(LoadTestShape):
    def __init__(self, schedule: Schedule) -> None:
        super().__init__()
        self.schedule = schedule

    def tick(self):
        return self.schedule.tick(self.get_run_time())
