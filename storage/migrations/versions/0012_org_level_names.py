"""org: the name of each unit's level, the branch kinds a group visits, a branch's app invites

Revision ID: 0012_org_levels
Revises: 0011_nudges
Create Date: 2026-12-06 22:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0012_org_levels'
down_revision: str | None = '0011_nudges'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The names the older imports implied by their kinds (see storage.models.org); copied here so
# the migration does not change when the models do.
_NAMES = {
    'province_committee': 'Tỉnh ủy',
    'district_committee': 'Huyện ủy',
    'town': 'Đảng ủy thị trấn',
    'commune': 'Đảng ủy xã',
    'ward': 'Đảng ủy phường',
    'special_zone': 'Đảng ủy đặc khu',
    'grassroots': 'Đảng bộ cơ sở',
    'agency_committee': 'Đảng ủy cơ quan',
}


def upgrade() -> None:
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('level_name', sa.String(length=64), server_default='', nullable=False)
        )
    with op.batch_alter_table('branches', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('app_invites', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table('working_groups', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('visit_kinds', sa.String(length=256), server_default='', nullable=False)
        )
    units = sa.table('units', sa.column('kind', sa.String), sa.column('level_name', sa.String))
    for kind, name in _NAMES.items():
        op.execute(units.update().where(units.c.kind == kind).values(level_name=name))


def downgrade() -> None:
    with op.batch_alter_table('branches', schema=None) as batch_op:
        batch_op.drop_column('app_invites')
    with op.batch_alter_table('working_groups', schema=None) as batch_op:
        batch_op.drop_column('visit_kinds')
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.drop_column('level_name')
