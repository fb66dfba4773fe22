from django.apps import AppConfig


class MatchingConfig(AppConfig):
    name = "matching"
    verbose_name = "Matching"

    def ready(self) -> None:
        # Orders offers an order to whoever the matcher ranks first, without importing the
        # matcher (which reads orders): the matcher plugs itself in here, once per process.
        from matching.services import rank_for_order
        from orders.offers import use_ranker

        use_ranker(rank_for_order)
