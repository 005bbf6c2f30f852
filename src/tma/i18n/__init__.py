"""Languages: negotiation of the reader's language and translations of course, module, post
and quiz texts (companion spec §4; docs/contracts/translations.md)."""
