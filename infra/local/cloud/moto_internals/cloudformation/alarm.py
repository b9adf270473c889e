"""``AWS::CloudWatch::Alarm``, which moto's CloudFormation lacks: the alarm is put with moto's
CloudWatch (a metric-math alarm keeps its description, actions and threshold; moto does not
evaluate alarms either way), so ``Ref`` gives its name and ``GetAtt .Arn`` its ARN, as a
dashboard's alarm widget needs."""

from __future__ import annotations

from infra.local.cloud.moto_internals.cloudformation.base import Added, Creation, Resource


class AlarmModel(Added):
    TYPE = "AWS::CloudWatch::Alarm"
    ATTRIBUTES = frozenset({"Arn"})
    NAME_PROPERTY = "AlarmName"

    @classmethod
    def _create(cls, creation: Creation) -> Resource:
        from moto.cloudwatch.models import cloudwatch_backends

        backend = cloudwatch_backends[creation.account_id][creation.region]
        given = creation.properties
        alarm = backend.put_metric_alarm(
            name=creation.name,
            namespace=given.get("Namespace") or "",
            metric_name=given.get("MetricName") or "",
            comparison_operator=given["ComparisonOperator"],
            evaluation_periods=int(given["EvaluationPeriods"]),
            period=int(given.get("Period") or 60),
            threshold=float(given.get("Threshold") or 0),
            statistic=given.get("Statistic") or "Sum",
            description=given.get("AlarmDescription") or "",
            dimensions=list(given.get("Dimensions") or []),
            alarm_actions=list(given.get("AlarmActions") or []),
            ok_actions=list(given.get("OKActions") or []),
            treat_missing_data=given.get("TreatMissingData"),
        )
        return Resource(
            alarm.name, {"Arn": alarm.alarm_arn}, lambda: backend.delete_alarms([alarm.name])
        )
