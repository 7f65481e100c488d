"""fsm states: conversation state in the database

Revision ID: 0006_fsm
Revises: 0001_users
Create Date: 2026-11-28 08:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006_fsm'
down_revision: str | None = '0001_users'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('fsm_states',
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('state', sa.String(length=128), nullable=True),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_fsm_states'))
    )


def downgrade() -> None:
    op.drop_table('fsm_states')
