import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import QtActorsDemo

// 2. Mandelbrot tiles: one pool actor per tile; tiles appear as their actors answer. Renders go
// out as castLatest, so dragging never makes the tiles replay stale positions.
Panel {
    id: panel

    required property FractalFacade fractal

    title: qsTr("2 · Fractal tiles")
    subtitle: qsTr("%1 pool actors, one per tile · wheel/double-click zooms, drag pans")
              .arg(panel.fractal.tileCount)

    ColumnLayout {
        anchors.fill: parent
        spacing: 6

        FractalView {
            id: view
            objectName: "fractalView"
            fractal: panel.fractal
            Layout.fillWidth: true
            Layout.fillHeight: true

            WheelHandler {
                onWheel: function (event) {
                    const p = view.toImageFraction(event.x, event.y)
                    panel.fractal.zoomAt(p.x, p.y, event.angleDelta.y > 0 ? 1.5 : 1 / 1.5)
                }
            }
            TapHandler {
                onDoubleTapped: {
                    const p = view.toImageFraction(point.position.x, point.position.y)
                    panel.fractal.zoomAt(p.x, p.y, 2)
                }
            }
            DragHandler {
                // Pans while the mouse moves: every move renders, and the tile actors'
                // castLatest drops the positions they had no time for.
                id: drag
                property point last: Qt.point(0, 0)
                target: null
                onActiveChanged: last = Qt.point(0, 0)
                onTranslationChanged: {
                    if (!active)
                        return
                    const a = view.toImageFraction(last.x, last.y)
                    const b = view.toImageFraction(translation.x, translation.y)
                    last = Qt.point(translation.x, translation.y)
                    panel.fractal.pan(b.x - a.x, b.y - a.y)
                }
            }
        }
        RowLayout {
            spacing: 6
            Button {
                text: qsTr("Zoom in")
                onClicked: panel.fractal.zoomAt(0.5, 0.5, 2)
            }
            Button {
                text: qsTr("Zoom out")
                onClicked: panel.fractal.zoomAt(0.5, 0.5, 0.5)
            }
            Button {
                text: qsTr("Reset")
                onClicked: panel.fractal.resetView()
            }
            Label {
                objectName: "fractalStatus"
                text: qsTr("tiles %1/%2 · %3 · zoom ×%4")
                      .arg(panel.fractal.tilesDone).arg(panel.fractal.tileCount)
                      .arg(panel.fractal.complete
                           ? qsTr("rendered in %1 ms").arg(panel.fractal.lastRenderMs.toFixed(0))
                           : qsTr("rendering…"))
                      .arg(panel.fractal.zoom.toFixed(0))
                color: "#c9d1d9"
                elide: Text.ElideRight
                Layout.fillWidth: true
            }
        }
        Label {
            objectName: "fractalCoalesced"
            text: qsTr("castLatest: %1 of %2 tile renders skipped (a newer view came first)")
                  .arg(Number(Math.max(0, panel.fractal.tileJobsSent - panel.fractal.tileJobsRun))
                       .toLocaleString(Qt.locale("en_US"), 'f', 0))
                  .arg(Number(panel.fractal.tileJobsSent).toLocaleString(Qt.locale("en_US"), 'f', 0))
            color: "#8b98a9"
            elide: Text.ElideRight
            Layout.fillWidth: true
        }
    }
}
