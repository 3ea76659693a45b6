"""Retries after a decline: attempts numbered per merchant id, each linked to the one before.

The uniqueness of a merchant id moves from (merchant, mode, id) to (merchant, mode, id,
attempt); the new constraint is added before the old one is dropped, in one transaction.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0007_delivery_gone_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="payment",
            name="attempt",
            field=models.PositiveIntegerField(default=1),
        ),
        migrations.AddField(
            model_name="payment",
            name="retry_of",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="retried_by",
                to="payments.payment",
                to_field="public_id",
            ),
        ),
        migrations.AddConstraint(
            model_name="payment",
            constraint=models.UniqueConstraint(
                condition=models.Q(("merchant_reference__isnull", False)),
                fields=("merchant", "is_test", "merchant_reference", "attempt"),
                name="payment_unique_merchant_reference_attempt",
            ),
        ),
        migrations.RemoveConstraint(
            model_name="payment",
            name="payment_unique_merchant_reference",
        ),
    ]
