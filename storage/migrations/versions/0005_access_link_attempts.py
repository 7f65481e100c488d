"""link attempts: wrong /link codes per chat and per person

Revision ID: 0005_access
Revises: 0002_org
Create Date: 2026-11-28 07:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005_access'
down_revision: str | None = '0002_org'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('link_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=8), nullable=False),
    sa.Column('subject_id', sa.BigInteger(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('window_started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_failure_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_link_attempts')),
    sa.UniqueConstraint('scope', 'subject_id', name=op.f('uq_link_attempts_scope_subject_id'))
    )


def downgrade() -> None:
    op.drop_table('link_attempts')
