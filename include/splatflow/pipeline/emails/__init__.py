"""The run's two emails: the result and the failure email.

``rendering`` words them from the templates, ``diagnosis`` says what a failure means for the user,
``composition`` decides what each says, to whom and with which pictures, ``mime`` shapes the
message as mail apps expect, and ``operators`` send it once through ``smtp_default``.
"""
