"""Dataset card templates, installed as `mplm_data.card_templates`."""
