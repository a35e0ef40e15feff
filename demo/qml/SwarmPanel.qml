import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import QtActorsDemo

// 3. Thousands of pool actors (bank accounts) moving money; audits check the total is conserved.
Panel {
    id: panel

    required property SwarmFacade swarm

    readonly property var english: Qt.locale("en_US")
    function count(n) { return Number(n).toLocaleString(english, 'f', 0) }

    title: qsTr("3 · Swarm")
    subtitle: qsTr("pool actors as bank accounts: casts move money, calls audit it")

    Connections {
        target: panel.swarm
        function onStatsChanged() { rateChart.add(panel.swarm.messagesPerSecond) }
    }

    ColumnLayout {
        anchors.fill: parent
        spacing: 8

        GridLayout {
            columns: 4
            columnSpacing: 18
            rowSpacing: 6
            Stat {
                caption: qsTr("accounts (actors)")
                value: panel.count(panel.swarm.accountCount)
            }
            Stat {
                caption: qsTr("messages handled")
                value: panel.count(panel.swarm.messagesHandled)
            }
            Stat {
                caption: qsTr("messages / s")
                value: panel.count(panel.swarm.messagesPerSecond)
            }
            Stat {
                caption: qsTr("transfers in flight")
                value: panel.count(panel.swarm.inFlight)
            }
            Stat {
                caption: qsTr("audits")
                value: panel.count(panel.swarm.audits)
            }
            Stat {
                caption: qsTr("last audited total")
                value: panel.swarm.audits > 0 ? panel.count(panel.swarm.lastAuditTotal) : "—"
            }
            Stat {
                caption: qsTr("expected total")
                value: panel.count(panel.swarm.expectedTotal)
            }
            Stat {
                objectName: "invariantStat"
                caption: qsTr("total conserved")
                value: panel.swarm.audits === 0 ? qsTr("not checked yet")
                       : panel.swarm.invariantHeld ? qsTr("✓ yes") : qsTr("✗ NO")
                valueColor: panel.swarm.invariantHeld ? "#7ee787" : "#ff7b72"
            }
        }
        Sparkline {
            id: rateChart
            lineColor: "#d2a8ff"
            Layout.fillWidth: true
            Layout.fillHeight: true
            Layout.minimumHeight: 30
            Label {
                anchors.right: parent.right
                anchors.top: parent.top
                anchors.margins: 4
                text: qsTr("messages / s · the dips are audits pausing the traffic")
                color: "#6b778a"
                font.pixelSize: 11
            }
        }
        RowLayout {
            spacing: 6
            Button {
                text: panel.swarm.running ? qsTr("Stop") : qsTr("Start")
                onClicked: panel.swarm.running ? panel.swarm.stop() : panel.swarm.start()
            }
            Button {
                text: qsTr("+10,000 actors")
                onClicked: panel.swarm.addAccounts(10000)
            }
            Button {
                text: qsTr("−10,000 actors")
                onClicked: panel.swarm.removeAccounts(10000)
            }
            Button {
                text: qsTr("Audit now")
                onClicked: panel.swarm.audit()
            }
            BusyIndicator {
                running: panel.swarm.busy
                implicitWidth: 28
                implicitHeight: 28
            }
        }
        Label {
            text: panel.swarm.lastEvent
            color: "#8b98a9"
            elide: Text.ElideRight
            Layout.fillWidth: true
        }
    }
}
