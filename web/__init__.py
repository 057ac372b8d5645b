"""Vitrina's web app: the shoppers' catalogue, the moderators' queue and the JSON API."""
