"""outbox: the target a readdressed group row is for

Revision ID: 0013_outbox_target
Revises: 0012_org_levels
Create Date: 2026-12-07 15:30:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0013_outbox_target'
down_revision: str | None = '0012_org_levels'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('target_type', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('target_id', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('target_id')
        batch_op.drop_column('target_type')
