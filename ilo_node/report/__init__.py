"""The half-year report and what feeds it: each Member State's contribution per host
country (:mod:`ilo_node.report.contribution`)."""
